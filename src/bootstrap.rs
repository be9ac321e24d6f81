//! First start and command-line account management.

use diesel::prelude::*;

use crate::auth::password;
use crate::auth::roles::Role;
use crate::config::Config;
use crate::db::schema::users;
use crate::db::{self, DbConn};
use crate::error::{AppError, CommandError, ErrorCode};
use crate::users::store as user_store;

pub const ADMIN_USERNAME: &str = "admin";

/// Creates the data directory (the SQLite file, the JWT secret and photos live there).
pub fn create_data_dir(config: &Config) -> Result<(), CommandError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        CommandError::caused_by(
            format!("cannot create data directory {}", config.data_dir.display()),
            e,
        )
    })
}

/// Connects and applies pending migrations; every subcommand that touches the database starts
/// here (the server's and the load tool's), so a fresh database is always usable.
pub fn migrated_conn(url: &str, config: &Config) -> Result<db::PooledConn, CommandError> {
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

/// On an empty database, creates `admin`, a global administrator, with the given password or a
/// random one, which is returned so that it can be shown once. Servers starting together race
/// harmlessly: the username is unique, and the loser finds the account there.
pub fn ensure_admin(
    conn: &mut DbConn,
    configured: Option<&str>,
) -> Result<Option<String>, CommandError> {
    let count: i64 = users::table
        .count()
        .get_result(conn)
        .map_err(|e| CommandError::caused_by("cannot count the accounts", e))?;
    if count > 0 {
        return Ok(None);
    }
    let (pw, generated) = match configured {
        Some(p) => {
            password::check_policy(p)
                .map_err(|m| CommandError::new(format!("FIREGRID_ADMIN_PASSWORD {m}")))?;
            (p.to_string(), false)
        }
        None => (password::random_password(), true),
    };
    match create_user(conn, ADMIN_USERNAME, "系统管理员", &pw, None, true) {
        Ok(()) => Ok(generated.then_some(pw)),
        Err(e) if e.message.contains("already taken") => Ok(None),
        Err(e) => Err(e),
    }
}

/// Creates an account; with `admin`, it holds the admin role on `region_id` (or globally).
pub fn create_user(
    conn: &mut DbConn,
    username: &str,
    display_name: &str,
    pw: &str,
    region_id: Option<i64>,
    admin: bool,
) -> Result<(), CommandError> {
    let mut checks = crate::validate::Checks::new();
    let username = checks.username("username", username);
    let display_name = checks.name("display_name", display_name, 64);
    checks.finish()?;
    password::check_policy(pw).map_err(|m| CommandError::new(format!("password {m}")))?;
    if region_id.is_none() && !admin {
        return Err(CommandError::new(
            "an account needs --region-id unless it is a global administrator (--admin)",
        ));
    }
    let hash = password::hash(pw)?;
    db::write_tx(conn, |conn| {
        if let Some(r) = region_id {
            crate::regions::store::get(conn, r)?;
        }
        let user = user_store::insert(
            conn,
            user_store::NewUserRow {
                username: &username,
                display_name: &display_name,
                phone: None,
                region_id,
                password_hash: &hash,
            },
            db::now(),
        )?;
        if admin {
            user_store::add_role(conn, user.id, Role::Admin, region_id, None, None, None)?;
        }
        Ok(())
    })
    .map_err(CommandError::from)
}

pub fn reset_password(conn: &mut DbConn, username: &str, pw: &str) -> Result<(), CommandError> {
    password::check_policy(pw).map_err(|m| CommandError::new(format!("password {m}")))?;
    let hash = password::hash(pw)?;
    let username = username.trim().to_lowercase();
    db::write_tx(conn, |conn| {
        let user =
            user_store::find_by_username(conn, &username)?.ok_or_else(AppError::not_found)?;
        user_store::set_password(conn, user.id, &hash)
    })
    .map_err(|e| {
        if e.code == ErrorCode::NotFound {
            CommandError::new(format!("no account {username}"))
        } else {
            e.into()
        }
    })
}
