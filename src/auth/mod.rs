//! Identity and access: passwords, tokens, the authenticated caller, scope and policy.

pub mod password;
pub mod policy;
pub mod principal;
pub mod roles;
pub mod routes;
pub mod scope;
pub mod store;
pub mod throttle;
pub mod tokens;

use actix_web::web;

use crate::error::{AppError, AppResult};
use crate::AppState;

/// Hashes off the actix workers, at most as many at once as the hashing semaphore allows
/// (argon2 takes 19 MiB and one core for tens of milliseconds each).
pub async fn hash_password(state: &AppState, password: String) -> AppResult<String> {
    let _permit = state
        .hashing
        .acquire()
        .await
        .map_err(|_| AppError::internal("hashing closed"))?;
    web::block(move || password::hash(&password)).await?
}

/// Verifies off the actix workers; with no stored hash, spends the same time on a dummy.
pub async fn verify_password(
    state: &AppState,
    password: String,
    phc: Option<String>,
) -> AppResult<password::Verified> {
    let _permit = state
        .hashing
        .acquire()
        .await
        .map_err(|_| AppError::internal("hashing closed"))?;
    Ok(web::block(move || match phc {
        Some(phc) => password::verify(&password, &phc),
        None => {
            password::verify_dummy(&password);
            password::Verified::Wrong
        }
    })
    .await?)
}
