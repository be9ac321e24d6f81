//! Bulk import (批量导入) of regions, organisations, people with roles, and premises from one
//! CSV file, applied in one transaction: all or nothing, every bad line reported, and running
//! the same file again changes nothing.
//!
//! # The file
//! UTF-8 (with or without a byte-order mark), comma-separated, a header row first, then one row
//! per thing. Lines starting with `#` are comments. Columns may come in any order; a column that
//! no row of the file needs may be left out; every row leaves the columns of other kinds empty.
//! The `kind` column says what a row is:
//!
//! | kind | required columns | optional columns | matched on (for re-runs) |
//! |---|---|---|---|
//! | `region` | `level`, `code`, `name` | `parent_code` (empty: a root), `supervisor` (a username) | `code` |
//! | `organization` | `org_kind`, `name`, `region_code` (where it sits) | `jurisdiction` (region codes separated by `;`) | `region_code` + `name` |
//! | `person` | `username`, `display_name`, `region_code` | `phone`, `role`, `organization`, `title`, `background` | `username` (+ role and where it is bound) |
//! | `premises` | `region_code` (a group), `name`, `category`, `address` | `lat`, `lng`, `contact_name`, `contact_phone`, `signage` | `region_code` + `name` |
//!
//! A person holding several roles takes one row per role. The role is bound to `region_code`,
//! except for `police_officer` / `fire_officer`, bound to the organisation named in
//! `organization` that sits in `region_code`. The account's home region is the `region_code` of
//! its first row. Rows are applied regions first (parents before children, whatever their order
//! in the file), then organisations, people, premises, and finally supervisors.
//!
//! Existing things are matched on the key above: a region's name, a person's display name and
//! phone, a role's title and background, and all fields of premises are updated when they
//! differ; a jurisdiction is replaced when given and different. A region never moves: the same
//! code under another parent or at another level is an error.
//!
//! # Passwords
//! The file carries none. Imported accounts get the hash of a random password that is thrown
//! away (one argon2 hash per import, not one per person: 6,000 hashes would take minutes), so
//! they cannot log in until an administrator sets a password (`POST /users/{id}/reset-password`
//! or `firegrid user reset-password`). Login takes the same time for them as for anyone.

pub mod apply;
pub mod parse;
pub mod routes;

pub use apply::{apply, Actor, ImportReport};
pub use parse::{parse, Row};

/// The errors shown at most; the rest are counted.
pub const MAX_ERRORS: usize = 500;

/// A problem on one line of the file: `field` reads "line 12: role".
pub fn line_error(line: u64, column: &str, message: impl Into<String>) -> crate::error::FieldError {
    crate::error::FieldError {
        field: format!("line {line}: {column}"),
        message: message.into(),
    }
}

/// The 422 for a list of line errors, capped at `MAX_ERRORS`.
pub fn failed(mut errors: Vec<crate::error::FieldError>) -> crate::error::AppError {
    let total = errors.len();
    if total > MAX_ERRORS {
        errors.truncate(MAX_ERRORS);
        errors.push(crate::error::FieldError {
            field: "file".into(),
            message: format!("{} more errors not shown", total - MAX_ERRORS),
        });
    }
    let mut err = crate::error::AppError::fields(errors);
    err.detail = format!("the import was not applied: {total} error(s); nothing was changed");
    err
}

/// Imports a file as the system (the `firegrid import` and `firegrid demo` commands): parse,
/// hash one throw-away password, apply in one transaction.
pub fn run_as_system(
    conn: &mut crate::db::DbConn,
    bytes: &[u8],
) -> crate::error::AppResult<ImportReport> {
    let rows = parse(bytes).map_err(failed)?;
    let unusable = crate::auth::password::hash(&crate::auth::password::random_password())?;
    crate::db::write_tx(conn, |conn| apply(conn, Actor::System, &rows, &unusable))
}
