//! Webhooks: notifications that leave the building. Administrators subscribe a URL (their own
//! service, or a WeCom 企业微信 / DingTalk 钉钉 group robot) to a region's or an organisation's
//! notifications; the outbox (`notifications::outbox`) holds every event, and each server's
//! delivery worker (`worker`) POSTs them signed (`payload`), retrying with back-off.

pub mod model;
pub mod payload;
pub mod routes;
pub mod store;
pub mod target;
pub mod worker;

pub use store::{backlog, Backlog};
