//! The `firegrid-bench` binary (BENCHMARKS.md shows how the results were obtained). It takes the
//! server's configuration flags and `FIREGRID_*` variables, of which it uses the database ones.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use firegrid::bootstrap::{create_data_dir, migrated_conn};
use firegrid::config::Config;
use firegrid::error::{chain, CommandError};
use firegrid_bench::{ceiling, gen, marker, run, Layout, ScaleName, BENCH_PASSWORD};

#[derive(Debug, Parser)]
#[command(
    name = "firegrid-bench",
    version,
    about = "Load tool of firegrid: generate data, load a running server, measure the database"
)]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Fill an EMPTY database (migrated first) with a generated county or province: regions,
    /// organisations, staff with roles (password `firegrid-bench-2026`), cases with events.
    /// Marks the database as generated, which `sweep` and `ceiling` require.
    Gen {
        #[arg(long, value_enum)]
        scale: ScaleName,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Load a running server with the scenarios, as the generated staff of --scale.
    Run {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        target: String,
        #[arg(long, default_value_t = 32)]
        clients: usize,
        /// Seconds per scenario (result row).
        #[arg(long, default_value_t = 20.0)]
        seconds: f64,
        /// Scenarios to run, comma-separated (default: all).
        #[arg(long, value_enum, value_delimiter = ',')]
        scenario: Vec<run::Scenario>,
        /// The scale the database was generated with.
        #[arg(long, value_enum, default_value = "county")]
        scale: ScaleName,
        /// Extra clients logging in nonstop during the `mixed` scenario.
        #[arg(long, default_value_t = 32)]
        login_clients: usize,
        /// A `ceiling --json` file: report each figure as a fraction of it.
        #[arg(long, value_name = "FILE")]
        ceiling: Option<PathBuf>,
        /// Also write the results as JSON.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// The server's process id (same machine): also report its CPU time per request.
        #[arg(long)]
        server_pid: Option<u32>,
    },
    /// Measure the raw database of a generated database: single-row insert transactions/s and
    /// indexed 20-row range queries/s, with one connection and with --clients.
    Ceiling {
        #[arg(long, default_value_t = 32)]
        clients: usize,
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// The machine's argon2 ceiling at the server's parameters: password verifications per
    /// second (what one login costs) on --threads threads (default: one per core), no server.
    HashCeiling {
        #[arg(long)]
        threads: Option<usize>,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
    },
    /// Time one deadline sweep over --overdue cases whose deadline is made to have passed
    /// (rewrites cases of a generated database: use a disposable copy).
    Sweep {
        #[arg(long, default_value_t = 100_000)]
        overdue: i64,
    },
    /// Write a synthetic county as a `firegrid import` file (for measuring imports).
    CountyCsv {
        /// The file to write.
        file: PathBuf,
        #[arg(long, default_value_t = 20)]
        townships: usize,
        /// Villages per township.
        #[arg(long, default_value_t = 15)]
        villages: usize,
        /// Groups per village.
        #[arg(long, default_value_t = 5)]
        groups: usize,
        /// Premises per group.
        #[arg(long, default_value_t = 2)]
        premises: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _log = firegrid::telemetry::init_logging(&cli.config.log, cli.config.log_format);
    match bench(&cli.config, cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The whole chain: what failed, then each underlying cause.
            eprintln!("firegrid-bench: {}", chain(&e));
            ExitCode::FAILURE
        }
    }
}

fn bench(config: &Config, cmd: BenchCommand) -> Result<(), CommandError> {
    match cmd {
        BenchCommand::Gen { scale, seed } => {
            create_data_dir(config)?;
            let mut conn = migrated_conn(&config.database_url(), config)?;
            let layout = Layout::of(scale);
            let report = gen::generate(&mut conn, &layout, seed, true)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
            println!(
                "accounts: password {BENCH_PASSWORD:?}; usernames c<county>-county-<0..2>, \
                 c<c>-fire-<0..3>, c<c>-ps<station>-police-<0..2>, c<c>-t<township>-official-<0..2>, \
                 c<c>-v<village>-cadre|police, c<c>-g<group>-leader|inspector|handler|coordinator \
                 (indices counted across the county from 0)"
            );
            Ok(())
        }
        BenchCommand::Run {
            target,
            clients,
            seconds,
            scenario,
            scale,
            login_clients,
            ceiling,
            json,
            seed,
            server_pid,
        } => {
            let ceiling = match ceiling {
                Some(path) => {
                    let text = std::fs::read_to_string(&path).map_err(|e| {
                        CommandError::caused_by(format!("cannot read {}", path.display()), e)
                    })?;
                    Some(serde_json::from_str(&text).map_err(|e| {
                        CommandError::caused_by(format!("{} is no ceiling", path.display()), e)
                    })?)
                }
                None => None,
            };
            let opts = run::RunOptions {
                target,
                clients: clients.max(1),
                seconds,
                scenarios: if scenario.is_empty() {
                    run::Scenario::ALL.to_vec()
                } else {
                    scenario
                },
                scale,
                ceiling,
                login_clients,
                seed,
                server_pid,
            };
            let report = actix_web::rt::System::new().block_on(run::run(&opts))?;
            if let Some(path) = json {
                run::write_json(&report, &path)?;
            }
            Ok(())
        }
        BenchCommand::HashCeiling { threads, seconds } => {
            let threads = threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let per_s = ceiling::argon2(threads, seconds)?;
            println!(
                "{}",
                serde_json::json!({"threads": threads, "seconds": seconds, "verifications_per_s": per_s})
            );
            Ok(())
        }
        BenchCommand::Ceiling {
            clients,
            seconds,
            json,
        } => {
            let url = config.database_url();
            // The mark first: not even a migration runs on a database `gen` did not make.
            drop(marker::connect_generated(&url, "ceiling")?);
            drop(migrated_conn(&url, config)?);
            let c = ceiling::measure_all(&url, clients.max(1), seconds)?;
            let text = serde_json::to_string_pretty(&c).unwrap_or_default();
            println!("{text}");
            if let Some(path) = json {
                std::fs::write(&path, text).map_err(|e| {
                    CommandError::caused_by(format!("cannot write {}", path.display()), e)
                })?;
            }
            Ok(())
        }
        BenchCommand::Sweep { overdue } => {
            let url = config.database_url();
            drop(marker::connect_generated(&url, "sweep")?);
            let mut conn = migrated_conn(&url, config)?;
            let r = gen::sweep_bench(&mut conn, overdue)?;
            println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
            Ok(())
        }
        BenchCommand::CountyCsv {
            file,
            townships,
            villages,
            groups,
            premises,
        } => {
            let spec = firegrid::demo::CountySpec {
                townships,
                villages,
                groups,
                premises_per_group: premises,
                demo_accounts: false,
            };
            std::fs::write(&file, firegrid::demo::county_csv(&spec))
                .map_err(|e| CommandError::caused_by(format!("cannot write {}", file.display()), e))
        }
    }
}
