//! The `firegrid` binary: parse the configuration, then serve (the default) or run a subcommand.

use std::process::ExitCode;

use actix_web::HttpServer;
use clap::Parser;
use firegrid::config::{Cli, Command, Config, UserCommand};
use firegrid::{bootstrap, db, openapi, telemetry, AppState};

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init_logging(&cli.config.log, cli.config.log_format);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&cli.config),
        Command::Migrate => migrate(&cli.config),
        Command::User(cmd) => user(&cli.config, cmd),
        Command::Openapi => {
            print!("{}", openapi::to_json(&openapi::document()));
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("firegrid: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Connects and applies pending migrations; every subcommand that touches the database starts
/// here, so a fresh database is always usable.
fn migrated_conn(url: &str, config: &Config) -> Result<db::PooledConn, String> {
    let pool = db::build_pool(url, 1, std::time::Duration::from_secs(config.pool_timeout_secs.max(1)));
    let mut conn = pool.get().map_err(|e| format!("cannot connect to the database: {e}"))?;
    let applied = db::run_migrations(&mut conn)?;
    for m in &applied {
        tracing::info!(migration = %m, "applied migration");
    }
    Ok(conn)
}

fn user(config: &Config, cmd: UserCommand) -> Result<(), String> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| e.to_string())?;
    let mut conn = migrated_conn(&config.database_url(), config)?;
    match cmd {
        UserCommand::Create { username, display_name, password, region_id, admin } => {
            bootstrap::create_user(&mut conn, &username, &display_name, &password, region_id, admin)?;
            println!("created account {username}");
        }
        UserCommand::ResetPassword { username, password } => {
            bootstrap::reset_password(&mut conn, &username, &password)?;
            println!("password of {username} reset; its sessions have ended");
        }
    }
    Ok(())
}

fn migrate(config: &Config) -> Result<(), String> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| e.to_string())?;
    migrated_conn(&config.database_url(), config).map(|_| ())
}

fn serve(config: &Config) -> Result<(), String> {
    let settings = config.resolve()?;
    let mut conn = migrated_conn(&settings.database_url, config)?;
    if let Some(generated) = bootstrap::ensure_admin(&mut conn, settings.admin_password.as_deref())? {
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
        let mut server = HttpServer::new(move || firegrid::build_app(server_state.clone()))
            .shutdown_timeout(10)
            .bind(&bind)
            .map_err(|e| format!("cannot listen on {bind}: {e}"))?;
        if let Some(n) = workers {
            server = server.workers(n.max(1));
        }
        tracing::info!(%bind, "firegrid listening");
        // actix-web stops gracefully on SIGTERM and SIGINT: in-flight requests finish first.
        server.run().await.map_err(|e| e.to_string())
    })
}
