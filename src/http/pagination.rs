//! Keyset pagination (SPEC §9): `?limit=` (default 20, max 200) and an opaque `?cursor=`;
//! bodies are `{items, next_cursor}`. The cursor carries the last id seen, so a deep page costs
//! the same index seek as the first.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{AppError, AppResult};

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 200;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page (1–200, default 20).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageParams {
    pub fn limit(&self) -> AppResult<i64> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(AppError::field(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            )),
        }
    }

    /// The id after which this page starts, if any. An empty `cursor=` is the first page, as
    /// a client that sends the previous page's `next_cursor` verbatim may do.
    pub fn after_id(&self) -> AppResult<Option<i64>> {
        self.cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(decode_cursor)
            .transpose()
    }
}

pub fn encode_cursor(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("id:{id}"))
}

pub fn decode_cursor(s: &str) -> AppResult<i64> {
    let bad = || AppError::field("cursor", "not a cursor this server issued");
    let raw = URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    text.strip_prefix("id:")
        .and_then(|n| n.parse().ok())
        .ok_or_else(bad)
}

/// A page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `?cursor=` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl<T: ToSchema> Page<T> {
    /// Builds a page from up to `limit + 1` rows fetched in order: the extra row only tells
    /// that another page exists.
    pub fn from_rows(mut rows: Vec<T>, limit: i64, id_of: impl Fn(&T) -> i64) -> Self {
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if more {
            rows.last().map(|r| encode_cursor(id_of(r)))
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        assert_eq!(decode_cursor(&encode_cursor(42)).unwrap(), 42);
        assert!(decode_cursor("not-base64!").is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("id:x")).is_err());
    }

    #[test]
    fn limit_bounds() {
        let p = |l| PageParams {
            limit: l,
            cursor: None,
        };
        assert_eq!(p(None).limit().unwrap(), 20);
        assert_eq!(p(Some(200)).limit().unwrap(), 200);
        assert!(p(Some(0)).limit().is_err());
        assert!(p(Some(201)).limit().is_err());
    }

    #[test]
    fn an_empty_cursor_is_the_first_page() {
        let p = |c: &str| PageParams {
            limit: None,
            cursor: Some(c.to_string()),
        };
        assert_eq!(p("").after_id().unwrap(), None);
        assert_eq!(p(&encode_cursor(7)).after_id().unwrap(), Some(7));
        assert!(p("x").after_id().is_err());
    }
}
