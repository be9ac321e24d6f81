//! Photos of a case (隐患照片): uploaded from phones, checked by their bytes, stripped of
//! location metadata, stored content-addressed under the data directory.

pub mod image;
pub mod ingest;
pub mod routes;
pub mod store;
