//! The public (群众, SPEC §7, 青政办〔2016〕189号): reports without an account and how their
//! reporters follow them, hotline and walk-in intake by staff, and the 48-hour first response.
//! A public report is an ordinary hazard case that starts in `pending_verification`; what only
//! a public report has (tracking code, secret, channel, private contact, first response) is its
//! `public_reports` row.

pub mod codes;
pub mod model;
pub mod regions;
pub mod routes;
pub mod store;
pub mod sweep;
pub mod throttle;
