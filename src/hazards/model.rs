//! Hazard cases (火灾隐患 / 消防违法行为): vocabulary and API shapes.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use crate::vocab::{
    ActionKind, Category, Difficulty, Level, Measure, Outcome, Severity, Source, Status,
};

impl Level {
    pub fn next(self) -> Option<Level> {
        match self {
            Level::Group => Some(Level::Village),
            Level::Village => Some(Level::Township),
            Level::Township => Some(Level::Police),
            Level::Police => None,
        }
    }

    pub fn rank(self) -> u8 {
        match self {
            Level::Group => 0,
            Level::Village => 1,
            Level::Township => 2,
            Level::Police => 3,
        }
    }
}

/// `POST /api/v1/hazards`
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHazard {
    pub group_id: i64,
    pub premises_id: Option<i64>,
    pub category: Category,
    pub severity: Severity,
    /// 1–100 characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub title: String,
    /// Up to 4,000 characters.
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*[^\x00-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x08\x0b\x0c\x0e-\x1f]*$"
    )]
    pub description: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub address: Option<String>,
    /// WGS-84, given together with `lng`.
    #[schema(minimum = -90, maximum = 90)]
    pub lat: Option<f64>,
    #[schema(minimum = -180, maximum = 180)]
    pub lng: Option<f64>,
    pub source: Source,
    /// When the phone saw it (RFC 3339); kept apart from the server's receipt time.
    pub found_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The body of `POST /api/v1/hazards/{id}/actions`: the action and its parameters by name.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    pub action: ActionKind,
    /// escalate, transfer_to_police, reject_report (inside only), reject_closure, reopen. Up
    /// to 500 characters.
    #[schema(max_length = 500, pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$")]
    pub reason: Option<String>,
    /// reject_report of a public report: why, as the reporter will read it. Up to 500
    /// characters.
    #[schema(max_length = 500, pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$")]
    pub public_reason: Option<String>,
    /// escalate: the level to go to; only a major hazard may skip levels. verify: `group` or
    /// `village` (the default).
    pub to_level: Option<Level>,
    /// verify with `to_level: group`: the group (small grid) of the case's village that takes
    /// the case on (a report made for a whole village lands in its first group until then).
    pub group_id: Option<i64>,
    /// classify.
    pub difficulty: Option<Difficulty>,
    /// set_deadline, list_for_supervision (RFC 3339, in the future).
    pub deadline: Option<chrono::DateTime<chrono::Utc>>,
    /// record_enforcement.
    pub measure: Option<Measure>,
    /// record_enforcement: the enforcement document number, up to 64 characters.
    #[schema(max_length = 64, pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$")]
    pub document_no: Option<String>,
    /// submit_rectification, spot_check. Up to 2,000 characters.
    #[schema(max_length = 2000, pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$")]
    pub note: Option<String>,
    /// submit_rectification: photos of this case, at most 20.
    #[schema(max_items = 20)]
    pub attachment_ids: Option<Vec<i64>>,
    /// approve_closure.
    pub outcome: Option<Outcome>,
    /// approve_closure with outcome `duplicate`, or reject_report: the original case.
    pub duplicate_of: Option<i64>,
    /// spot_check.
    pub passed: Option<bool>,
    /// comment, reply_public. Up to 2,000 characters.
    #[schema(max_length = 2000, pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$")]
    pub text: Option<String>,
    /// Refuse with 409 version_conflict unless the case still has this version.
    pub expected_version: Option<i32>,
}

impl ActionRequest {
    /// The action with no parameters (callers in code fill the ones it takes).
    pub fn new(action: ActionKind) -> Self {
        ActionRequest {
            action,
            reason: None,
            public_reason: None,
            to_level: None,
            group_id: None,
            difficulty: None,
            deadline: None,
            measure: None,
            document_no: None,
            note: None,
            attachment_ids: None,
            outcome: None,
            duplicate_of: None,
            passed: None,
            text: None,
            expected_version: None,
        }
    }
}
