//! `per_backend!`: one diesel expression compiled once per backend.
//!
//! A few queries do not compile through the `DbConn` enum (`RETURNING` a whole row, multi-row
//! `INSERT`s, `FOR UPDATE`; see `STACK.md`), so they are written against each concrete
//! connection. When both arms are the same code, this macro writes the `match` instead of the
//! caller (vaultwarden's `db_run!` is the model); where the arms differ, match by hand.

/// `per_backend!(conn, |c| query.get_result(c))` runs the expression with `c` bound to the
/// PostgreSQL or the SQLite connection inside `conn: &mut DbConn`.
#[macro_export]
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConn::Pg($c) => $body,
            $crate::db::DbConn::Sqlite($c) => $body,
        }
    };
}
