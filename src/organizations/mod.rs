//! Organisations: police stations (公安派出所) and fire departments (消防部门) with their
//! jurisdictions, micro fire stations, and the bodies on a township's fire-safety committee.

pub mod model;
pub mod routes;
pub mod store;
