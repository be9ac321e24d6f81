//! Premises (一格多点): the points registered inside each group — the nine kinds of small places
//! (九小场所), residential buildings, social units and others — with address, optional
//! coordinates, a contact, and whether fire signage (消防标牌) is up.

pub mod model;
pub mod routes;
pub mod store;
