//! Notifications: who hears about a case when it arrives at a level, is rejected at review,
//! listed, reopened, or passes its deadline; and the caller's inbox.

pub mod outbox;
pub mod routes;
pub mod store;
