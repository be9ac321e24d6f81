//! Open311 GeoReport v2 (issue 12): civic apps that speak the standard list the hazard
//! categories as services, post reports from the public with an API key an administrator issued
//! for the county, and read them back. A posted request is a public report like any other
//! (channel `open311`); reading one back shows only what its reporter's own view shows.

pub mod http;
pub mod keys;
pub mod model;
pub mod routes;
pub mod store;
