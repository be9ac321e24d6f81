//! The roster of each group — one leader, three officers (一长三员) — its compliance (达标) rolled
//! up over a subtree, and the township fire-safety committee (乡镇消防安全委员会). All are read
//! off role assignments and organisations in a fixed handful of queries, whatever the size of
//! the subtree.

pub mod model;
pub mod routes;
pub mod store;
