//! Hazard cases (火灾隐患 / 消防违法行为): vocabulary and API shapes.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::text_enum;

text_enum!(
    /// What kind of hazard.
    pub Category {
        /// 电气线路
        Electrical => "electrical",
        /// 堵塞疏散通道、消防车通道
        BlockedEscapeRoute => "blocked_escape_route",
        /// 易燃物品堆放
        FlammableStorage => "flammable_storage",
        /// 消防器材缺失或过期
        EquipmentMissing => "equipment_missing",
        /// 违规用火
        OpenFlame => "open_flame",
        /// 三合一 (living, storage and business under one roof)
        MixedUse => "mixed_use",
        /// 违规储存燃料
        IllegalFuel => "illegal_fuel",
        Other => "other",
    }
);

text_enum!(
    pub Severity {
        General => "general",
        /// 重大火灾隐患
        Major => "major",
    }
);

text_enum!(
    pub Source {
        /// 巡查 (daily patrol)
        Patrol => "patrol",
        /// 检查 (inspection)
        Inspection => "inspection",
        /// 群众举报 (the public)
        Public => "public",
        Other => "other",
    }
);

text_enum!(
    pub Status {
        /// A public report waiting for village staff to verify it.
        PendingVerification => "pending_verification",
        Open => "open",
        /// Rectification submitted; waiting for the reviewer.
        AwaitingReview => "awaiting_review",
        Closed => "closed",
        /// Unfounded report.
        Rejected => "rejected",
    }
);

text_enum!(
    /// The tier that currently handles the case; it moves up, never down.
    pub Level {
        Group => "group",
        Village => "village",
        Township => "township",
        /// 交由公安派出所依法查处
        Police => "police",
    }
);

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

text_enum!(
    /// Set by the village (分级分类).
    pub Difficulty {
        Easy => "easy",
        Moderate => "moderate",
        Hard => "hard",
    }
);

text_enum!(
    pub Measure {
        Warning => "warning",
        Fine => "fine",
        OrderToRectify => "order_to_rectify",
        /// 查封
        SealUp => "seal_up",
        Other => "other",
    }
);

text_enum!(
    /// Why a case was closed: only `rectified` counts as fixed.
    pub Outcome {
        Rectified => "rectified",
        Unfounded => "unfounded",
        Duplicate => "duplicate",
    }
);

text_enum!(
    /// Every action of SPEC §5 that a person can take on a case.
    pub ActionKind {
        Verify => "verify",
        RejectReport => "reject_report",
        Escalate => "escalate",
        Classify => "classify",
        SetDeadline => "set_deadline",
        TransferToPolice => "transfer_to_police",
        RecordEnforcement => "record_enforcement",
        ListForSupervision => "list_for_supervision",
        SubmitRectification => "submit_rectification",
        ApproveClosure => "approve_closure",
        RejectClosure => "reject_closure",
        Reopen => "reopen",
        SpotCheck => "spot_check",
        Comment => "comment",
    }
);

/// `POST /api/v1/hazards`
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHazard {
    pub group_id: i64,
    pub premises_id: Option<i64>,
    pub category: Category,
    pub severity: Severity,
    /// 1–100 characters.
    pub title: String,
    /// Up to 4,000 characters.
    pub description: String,
    pub address: Option<String>,
    pub lat: Option<f64>,
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
    /// escalate, transfer_to_police, reject_report, reject_closure, reopen.
    pub reason: Option<String>,
    /// escalate: the level to go to; only a major hazard may skip levels.
    pub to_level: Option<Level>,
    /// classify.
    pub difficulty: Option<Difficulty>,
    /// set_deadline, list_for_supervision (RFC 3339, in the future).
    pub deadline: Option<chrono::DateTime<chrono::Utc>>,
    /// record_enforcement.
    pub measure: Option<Measure>,
    /// record_enforcement: the enforcement document number.
    pub document_no: Option<String>,
    /// submit_rectification, spot_check.
    pub note: Option<String>,
    /// submit_rectification: photos of this case.
    pub attachment_ids: Option<Vec<i64>>,
    /// approve_closure.
    pub outcome: Option<Outcome>,
    /// approve_closure with outcome `duplicate`: the original case.
    pub duplicate_of: Option<i64>,
    /// spot_check.
    pub passed: Option<bool>,
    /// comment.
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
            to_level: None,
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
