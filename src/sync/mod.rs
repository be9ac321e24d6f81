//! Offline sync (issue 13): a phone on the plateau works a whole day without signal and then
//! catches up, without losing or doubling anything. Triggers log every change a phone may need
//! (`sync_log`); `store` reads a snapshot of the caller's scope and then the log in commit
//! order; `cursor` is the signed position handed to the phone; `prune` keeps the log to its
//! retention period.

pub mod cursor;
pub mod prune;
pub mod routes;
pub mod store;
