//! Regions: the one net of three tiers (一网三级). province → prefecture → county → township
//! (big grid) → village (medium grid) → group (small grid).

pub mod model;
pub mod routes;
pub mod store;
pub mod supervision;
