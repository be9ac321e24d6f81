//! Hazard cases: report, escalate up the tiers, police transfer, listed supervision, closure
//! review. `workflow` is the state machine; the rest is storage and HTTP around it.

pub mod duplicates;
pub mod events;
pub mod model;
pub mod numbering;
pub mod routes;
pub mod store;
pub mod sweep;
pub mod workflow;
