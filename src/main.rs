//! The `firegrid` binary: parse the configuration, then serve (the default) or run a subcommand.

use std::process::ExitCode;

use clap::Parser;
use firegrid::bootstrap::{create_data_dir, migrated_conn};
use firegrid::config::{AuditCommand, Cli, Command, Config, UserCommand};
use firegrid::error::{chain, CommandError};
use firegrid::{bootstrap, openapi, telemetry, AppState};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _log = telemetry::init_logging(&cli.config.log, cli.config.log_format);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&cli.config),
        Command::Migrate => migrate(&cli.config),
        Command::User(cmd) => user(&cli.config, cmd),
        Command::Audit(AuditCommand::Verify) => audit_verify(&cli.config),
        Command::Import { file } => import(&cli.config, &file),
        Command::Demo => demo(&cli.config),
        Command::Backup { to } => backup(&cli.config, &to),
        Command::Restore { from } => restore(&cli.config, &from),
        Command::MigrateData {
            from,
            to,
            photos_to,
        } => migrate_data(&cli.config, &from, &to, photos_to.as_deref()),
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

fn backup(config: &Config, to: &std::path::Path) -> Result<(), CommandError> {
    let s = firegrid::backup::backup(&config.database_url(), &config.data_dir, to)?;
    println!("backed up to {}: {s}", to.display());
    Ok(())
}

fn restore(config: &Config, from: &std::path::Path) -> Result<(), CommandError> {
    let s = firegrid::backup::restore(&config.database_url(), &config.data_dir, from)?;
    println!("restored from {}: {s}", from.display());
    Ok(())
}

fn migrate_data(
    config: &Config,
    from: &std::path::Path,
    to: &str,
    photos_to: Option<&std::path::Path>,
) -> Result<(), CommandError> {
    let photos = firegrid::migrate_data::Photos {
        from: &config.data_dir,
        to: photos_to,
    };
    let report = firegrid::migrate_data::migrate_data(from, to, photos)?;
    println!("{report}");
    println!("moved {} into PostgreSQL", from.display());
    Ok(())
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
        let listener = std::net::TcpListener::bind(&bind)
            .map_err(|e| CommandError::caused_by(format!("cannot listen on {bind}"), e))?;
        let server = firegrid::app::serve(state.clone(), listener, workers)
            .map_err(|e| CommandError::caused_by(format!("cannot listen on {bind}"), e))?;
        tracing::info!(%bind, "firegrid listening");
        // Every server sweeps; claiming with row locks keeps each move to one server.
        let interval = state.settings.sweep_interval;
        // Every server delivers webhooks; leases keep each delivery with one server at a time
        // (one cut short by a shutdown is sent again once its lease ends).
        actix_web::rt::spawn(firegrid::webhooks::worker::run_forever(state.clone()));
        // Missed patrols and inspections: once per local day, "once" decided by primary keys.
        actix_web::rt::spawn(firegrid::patrols::alerts::run_forever(
            state.clone(),
            interval,
        ));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let sweep = actix_web::rt::spawn(firegrid::hazards::sweep::run_forever(
            state, interval, stopped,
        ));
        // actix-web stops gracefully on SIGTERM and SIGINT: it stops accepting at once, and the
        // requests in flight finish (up to the shutdown timeout) before `server` resolves.
        let served = server
            .await
            .map_err(|e| CommandError::caused_by("the server stopped with an error", e));
        // Then the sweep: a run in progress finishes, no new one starts.
        let _ = stop.send(true);
        let _ = sweep.await;
        tracing::info!("firegrid stopped");
        served
    })
}
