//! Accounts and their role assignments, managed by administrators inside their own subtree.

pub mod grants;
pub mod model;
pub mod routes;
pub mod store;
