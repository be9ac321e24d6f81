//! The `firegrid` binary: parse the configuration, then serve (the default) or run a subcommand.

use std::process::ExitCode;

use actix_web::HttpServer;
use clap::Parser;
use firegrid::config::{AuditCommand, BenchCommand, Cli, Command, Config, UserCommand};
use firegrid::error::{chain, CommandError};
use firegrid::{bootstrap, db, openapi, telemetry, AppState};

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init_logging(&cli.config.log, cli.config.log_format);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&cli.config),
        Command::Migrate => migrate(&cli.config),
        Command::User(cmd) => user(&cli.config, cmd),
        Command::Audit(AuditCommand::Verify) => audit_verify(&cli.config),
        Command::Import { file } => import(&cli.config, &file),
        Command::Bench(cmd) => bench(&cli.config, cmd),
        Command::Demo {
            emit_csv: Some(path),
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
            std::fs::write(&path, firegrid::demo::county_csv(&spec))
                .map_err(|e| CommandError::caused_by(format!("cannot write {}", path.display()), e))
        }
        Command::Demo { emit_csv: None, .. } => demo(&cli.config),
        Command::Openapi => {
            print!("{}", openapi::to_json(&openapi::document()));
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The whole chain: what failed, then each underlying cause.
            let e = chain(&e);
            tracing::error!("{e}");
            eprintln!("firegrid: {e}");
            ExitCode::FAILURE
        }
    }
}

fn create_data_dir(config: &Config) -> Result<(), CommandError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        CommandError::caused_by(
            format!("cannot create data directory {}", config.data_dir.display()),
            e,
        )
    })
}

/// Connects and applies pending migrations; every subcommand that touches the database starts
/// here, so a fresh database is always usable.
fn migrated_conn(url: &str, config: &Config) -> Result<db::PooledConn, CommandError> {
    let pool = db::build_pool(
        url,
        1,
        std::time::Duration::from_secs(config.pool_timeout_secs.max(1)),
    );
    let mut conn = pool
        .get()
        .map_err(|e| CommandError::caused_by("cannot connect to the database", e))?;
    let applied = db::run_migrations(&mut conn)?;
    for m in &applied {
        tracing::info!(migration = %m, "applied migration");
    }
    Ok(conn)
}

fn audit_verify(config: &Config) -> Result<(), CommandError> {
    let mut conn = migrated_conn(&config.database_url(), config)?;
    let (checked, broken) = firegrid::hazards::events::verify_all(&mut conn)?;
    for b in &broken {
        println!(
            "BROKEN case {} at event {}: {}",
            b.hazard_id, b.seq, b.reason
        );
    }
    println!("checked {checked} events: {} broken chain(s)", broken.len());
    if broken.is_empty() {
        Ok(())
    } else {
        Err(CommandError::new(format!(
            "{} case timeline(s) fail verification",
            broken.len()
        )))
    }
}

fn user(config: &Config, cmd: UserCommand) -> Result<(), CommandError> {
    create_data_dir(config)?;
    let mut conn = migrated_conn(&config.database_url(), config)?;
    match cmd {
        UserCommand::Create {
            username,
            display_name,
            password,
            region_id,
            admin,
        } => {
            bootstrap::create_user(
                &mut conn,
                &username,
                &display_name,
                &password,
                region_id,
                admin,
            )?;
            println!("created account {username}");
        }
        UserCommand::ResetPassword { username, password } => {
            bootstrap::reset_password(&mut conn, &username, &password)?;
            println!("password of {username} reset; its sessions have ended");
        }
    }
    Ok(())
}

fn import(config: &Config, file: &std::path::Path) -> Result<(), CommandError> {
    let bytes = std::fs::read(file)
        .map_err(|e| CommandError::caused_by(format!("cannot read {}", file.display()), e))?;
    create_data_dir(config)?;
    let mut conn = migrated_conn(&config.database_url(), config)?;
    let started = std::time::Instant::now();
    match firegrid::import::run_as_system(&mut conn, &bytes) {
        Ok(report) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
            eprintln!(
                "imported {} rows in {:.2} s",
                report.rows,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Err(e) => {
            for f in &e.errors {
                eprintln!("{}: {}", f.field, f.message);
            }
            Err(e.into())
        }
    }
}

fn demo(config: &Config) -> Result<(), CommandError> {
    create_data_dir(config)?;
    let mut conn = migrated_conn(&config.database_url(), config)?;
    let report = firegrid::demo::load(&mut conn)?;
    println!(
        "demo county 湟中区 loaded: {} rows imported",
        report.import.rows
    );
    print!("{}", firegrid::demo::accounts_table(&report));
    Ok(())
}

fn bench(config: &Config, cmd: BenchCommand) -> Result<(), CommandError> {
    use firegrid::bench;
    match cmd {
        BenchCommand::Gen { scale, seed } => {
            create_data_dir(config)?;
            let mut conn = migrated_conn(&config.database_url(), config)?;
            let layout = bench::Layout::of(scale);
            let report = bench::gen::generate(&mut conn, &layout, seed, true)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
            println!(
                "accounts: password {:?}; usernames c<county>-county-<0..2>, c<c>-fire-<0..3>, \
                 c<c>-ps<station>-police-<0..2>, c<c>-t<township>-official-<0..2>, \
                 c<c>-v<village>-cadre|police, c<c>-g<group>-leader|inspector|handler|coordinator \
                 (indices counted across the county from 0)",
                bench::BENCH_PASSWORD
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
                    let text = std::fs::read_to_string(&path)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    Some(serde_json::from_str(&text).map_err(|e| e.to_string())?)
                }
                None => None,
            };
            let opts = bench::run::RunOptions {
                target,
                clients: clients.max(1),
                seconds,
                scenarios: if scenario.is_empty() {
                    bench::run::Scenario::ALL.to_vec()
                } else {
                    scenario
                },
                scale,
                ceiling,
                login_clients,
                seed,
                server_pid,
            };
            let report = actix_web::rt::System::new().block_on(bench::run::run(&opts))?;
            if let Some(path) = json {
                bench::run::write_json(&report, &path)?;
            }
            Ok(())
        }
        BenchCommand::Ceiling {
            clients,
            seconds,
            json,
        } => {
            let url = config.database_url();
            drop(migrated_conn(&url, config)?);
            let c = bench::ceiling::measure_all(&url, clients.max(1), seconds)?;
            let text = serde_json::to_string_pretty(&c).unwrap_or_default();
            println!("{text}");
            if let Some(path) = json {
                std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
            }
            Ok(())
        }
        BenchCommand::Sweep { overdue } => {
            let mut conn = migrated_conn(&config.database_url(), config)?;
            let r = bench::gen::sweep_bench(&mut conn, overdue)?;
            println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
            Ok(())
        }
    }
}

fn migrate(config: &Config) -> Result<(), CommandError> {
    create_data_dir(config)?;
    migrated_conn(&config.database_url(), config).map(|_| ())
}

fn serve(config: &Config) -> Result<(), CommandError> {
    let settings = config.resolve()?;
    let mut conn = migrated_conn(&settings.database_url, config)?;
    if let Some(generated) = bootstrap::ensure_admin(&mut conn, settings.admin_password.as_deref())?
    {
        // Shown once: it is not stored anywhere in clear.
        tracing::warn!(
            username = bootstrap::ADMIN_USERNAME,
            password = %generated,
            "created the first administrator with a random password; change it after logging in"
        );
    }
    drop(conn);
    let state = AppState::new(settings);
    let bind = config.bind.clone();
    let workers = config.workers;
    actix_web::rt::System::new().block_on(async move {
        let server_state = state.clone();
        let server_state_sweep = state.clone();
        let mut server = HttpServer::new(move || firegrid::build_app(server_state.clone()))
            .shutdown_timeout(10)
            .bind(&bind)
            .map_err(|e| CommandError::caused_by(format!("cannot listen on {bind}"), e))?;
        if let Some(n) = workers {
            server = server.workers(n.max(1));
        }
        tracing::info!(%bind, "firegrid listening");
        // Every server sweeps; claiming with row locks keeps each move to one server.
        let interval = server_state_sweep.settings.sweep_interval;
        actix_web::rt::spawn(firegrid::hazards::sweep::run_forever(
            server_state_sweep,
            interval,
        ));
        // actix-web stops gracefully on SIGTERM and SIGINT: in-flight requests finish first.
        server
            .run()
            .await
            .map_err(|e| CommandError::caused_by("the server stopped with an error", e))
    })
}
