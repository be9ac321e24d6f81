//! Identity and access: passwords, tokens, the authenticated caller, scope and policy.

pub mod hashing;
pub mod password;
pub mod policy;
pub mod principal;
pub mod roles;
pub mod routes;
pub mod scope;
pub mod store;
pub mod throttle;
pub mod tokens;

use crate::error::AppResult;
use crate::AppState;

/// Hashes on the hashing threads (`hashing`), never on an actix worker.
pub async fn hash_password(state: &AppState, password: String) -> AppResult<String> {
    state.hashing.run(move || password::hash(&password)).await?
}

/// Verifies on the hashing threads; with no stored hash, spends the same time on a dummy.
pub async fn verify_password(
    state: &AppState,
    password: String,
    phc: Option<String>,
) -> AppResult<password::Verified> {
    state
        .hashing
        .run(move || match phc {
            Some(phc) => password::verify(&password, &phc),
            None => {
                password::verify_dummy(&password);
                password::Verified::Wrong
            }
        })
        .await
}
