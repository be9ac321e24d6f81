//! HTTP plumbing shared by every domain module: the JSON extractor, pagination, problem+json
//! for errors that do not come from our handlers, the operations endpoints and the `/docs` page.

pub mod controls;
pub mod docs;
pub mod headers;
pub mod json;
pub mod ops;
pub mod pagination;
pub mod problem;

pub use json::JsonBody;
pub use pagination::{Page, PageParams};
