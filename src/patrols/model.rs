//! Rounds on the wire: what a phone sends (`NewPatrol`) and what it gets back (`Patrol`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{AppError, AppResult, FieldError};
use crate::hazards::model::{NewHazard, Severity, Source, Status};
use crate::regions::model::RegionRef;
use crate::validate::Checks;
pub use crate::vocab::{CheckResult, PatrolKind, RegionLevel, Role};

/// How far ahead of the server's clock a phone's clock may run.
pub const CLOCK_SKEW_MINUTES: i64 = 5;
/// How old a round may be when it arrives: a phone offline for days still catches up, but
/// last month's compliance is not rewritten by a late upload.
pub const MAX_AGE_DAYS: i64 = 7;
/// The longest round.
pub const MAX_HOURS: i64 = 24;
pub const MAX_CHECKS: usize = 500;
pub const MAX_HAZARDS: usize = 50;
pub const MAX_TRACK_POINTS: usize = 10_000;
pub const THEME_MAX: usize = 100;
pub const NOTE_MAX: usize = 500;

impl PatrolKind {
    /// The level of region a round of this kind covers.
    pub fn level(self) -> RegionLevel {
        match self {
            PatrolKind::Patrol => RegionLevel::Group,
            PatrolKind::VillageCheck => RegionLevel::Village,
            PatrolKind::TownshipInspection => RegionLevel::Township,
        }
    }

    /// Who may record a round of this kind on their region: any grid role of the group
    /// (一长三员), the village's cadres and police, the township's officials.
    pub fn recorders(self) -> &'static [Role] {
        match self {
            PatrolKind::Patrol => &[
                Role::GridLeader,
                Role::GridInspector,
                Role::GridHandler,
                Role::GridCoordinator,
            ],
            PatrolKind::VillageCheck => &[Role::VillageCadre, Role::VillagePolice],
            PatrolKind::TownshipInspection => &[Role::TownshipOfficial],
        }
    }

    /// The `source` of the cases a round of this kind finds.
    pub fn source(self) -> Source {
        match self {
            PatrolKind::Patrol | PatrolKind::VillageCheck => Source::Patrol,
            PatrolKind::TownshipInspection => Source::Inspection,
        }
    }
}

/// One premises visited on the round.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCheck {
    /// Premises in the round's region: the group (patrol), the village (village check) or the
    /// township (township inspection).
    pub premises_id: i64,
    pub result: CheckResult,
    /// Up to 500 characters.
    #[schema(max_length = 500, pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$")]
    pub note: Option<String>,
}

/// `POST /api/v1/patrols`: a round as the phone recorded it, possibly hours ago and offline.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPatrol {
    /// Default `patrol`.
    pub kind: Option<PatrolKind>,
    /// The group patrolled (kind `patrol`).
    pub group_id: Option<i64>,
    /// The region of the round: the group (patrol), village (village_check) or township
    /// (township_inspection). Give this or `group_id`.
    pub region_id: Option<i64>,
    /// The inspection's theme, e.g. 冬春火灾防控: required for a township inspection, 1–100
    /// characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub theme: Option<String>,
    /// When the round began (RFC 3339): up to 7 days ago, at most 5 minutes ahead of the
    /// server's clock. Its day in FIREGRID_TZ is the day the round counts for.
    pub started_at: DateTime<Utc>,
    /// When it ended: not before `started_at`, at most 24 hours after it.
    pub ended_at: DateTime<Utc>,
    /// The path walked: a GeoJSON LineString (`{"type":"LineString","coordinates":[[lng,lat],
    /// …]}`, 2–10,000 positions, WGS-84).
    #[schema(value_type = Option<Object>)]
    pub track: Option<serde_json::Value>,
    /// The premises checked, at most 500, each once.
    #[serde(default)]
    #[schema(max_items = 500)]
    pub checks: Vec<NewCheck>,
    /// Hazards found, reported as with `POST /hazards` (at most 50), each in a group of the
    /// round's region, with `source` `patrol` (`inspection` for a township inspection). They
    /// become cases in the same transaction as the round, linked to it.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub hazards: Vec<NewHazard>,
}

impl NewPatrol {
    pub fn kind(&self) -> PatrolKind {
        self.kind.unwrap_or(PatrolKind::Patrol)
    }

    /// The region named, or a 422 naming what is wrong.
    pub fn region(&self) -> AppResult<i64> {
        match (self.group_id, self.region_id) {
            (Some(g), Some(r)) if g != r => Err(AppError::field(
                "region_id",
                "group_id and region_id name different regions; give one",
            )),
            (Some(id), _) | (None, Some(id)) => {
                if self.kind() != PatrolKind::Patrol && self.group_id.is_some() {
                    return Err(AppError::field(
                        "group_id",
                        "a village check or township inspection names its region_id",
                    ));
                }
                Ok(id)
            }
            (None, None) => Err(AppError::field(
                if self.kind() == PatrolKind::Patrol {
                    "group_id"
                } else {
                    "region_id"
                },
                "is required",
            )),
        }
    }

    /// Every check that needs no database, all reported at once.
    pub fn validate(&self, now: DateTime<Utc>) -> AppResult<()> {
        let mut c = Checks::new();
        let kind = self.kind();
        match (&self.theme, kind) {
            (Some(t), _) => {
                c.name("theme", t, THEME_MAX);
            }
            (None, PatrolKind::TownshipInspection) => c.fail(
                "theme",
                "a township inspection has a theme (e.g. 冬春火灾防控)",
            ),
            (None, _) => {}
        }
        let skew = chrono::Duration::minutes(CLOCK_SKEW_MINUTES);
        if self.started_at > now + skew {
            c.fail("started_at", "must not be in the future");
        } else if self.started_at < now - chrono::Duration::days(MAX_AGE_DAYS) {
            c.fail(
                "started_at",
                format!("must be within the last {MAX_AGE_DAYS} days"),
            );
        }
        if self.ended_at > now + skew {
            c.fail("ended_at", "must not be in the future");
        } else if self.ended_at < self.started_at {
            c.fail("ended_at", "must not be before started_at");
        } else if self.ended_at - self.started_at > chrono::Duration::hours(MAX_HOURS) {
            c.fail(
                "ended_at",
                format!("a round lasts at most {MAX_HOURS} hours"),
            );
        }
        if let Some(track) = &self.track {
            if let Err(m) = check_line_string(track) {
                c.fail("track", m);
            }
        }
        if self.checks.len() > MAX_CHECKS {
            c.fail("checks", format!("at most {MAX_CHECKS} premises per round"));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, check) in self.checks.iter().enumerate() {
            if !seen.insert(check.premises_id) {
                c.fail(
                    &format!("checks[{i}].premises_id"),
                    "this premises is already checked earlier in the round",
                );
            }
            if let Some(n) = &check.note {
                if n.chars().count() > NOTE_MAX {
                    c.fail(
                        &format!("checks[{i}].note"),
                        format!("must be at most {NOTE_MAX} characters"),
                    );
                }
            }
        }
        if self.hazards.len() > MAX_HAZARDS {
            c.fail(
                "hazards",
                format!("at most {MAX_HAZARDS} hazards per round"),
            );
        }
        let mut errors = match c.finish() {
            Ok(()) => Vec::new(),
            Err(e) => e.errors,
        };
        for (i, h) in self.hazards.iter().enumerate() {
            if h.source != kind.source() {
                errors.push(FieldError {
                    field: format!("hazards[{i}].source"),
                    message: format!("a {kind} reports hazards as {}", kind.source()),
                });
            }
            if let Err(e) = crate::hazards::routes::validate_new(h) {
                errors.extend(item_errors(e, "hazards", i).errors);
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(AppError::fields(errors))
        }
    }
}

/// A validation error about one element of a list, with its fields named by index
/// (`hazards[2].title`); other errors pass unchanged.
pub fn item_errors(e: AppError, list: &str, index: usize) -> AppError {
    if e.errors.is_empty() {
        return e;
    }
    AppError::fields(
        e.errors
            .into_iter()
            .map(|f| FieldError {
                field: format!("{list}[{index}].{}", f.field),
                message: f.message,
            })
            .collect(),
    )
}

/// A GeoJSON LineString of WGS-84 positions.
fn check_line_string(v: &serde_json::Value) -> Result<(), String> {
    let obj = v.as_object().ok_or("must be a GeoJSON LineString object")?;
    if obj.get("type").and_then(|t| t.as_str()) != Some("LineString") {
        return Err("must be a GeoJSON object of type LineString".into());
    }
    let coords = obj
        .get("coordinates")
        .and_then(|c| c.as_array())
        .ok_or("coordinates must be an array of positions")?;
    if coords.len() < 2 || coords.len() > MAX_TRACK_POINTS {
        return Err(format!("has 2 to {MAX_TRACK_POINTS} positions"));
    }
    for (i, pos) in coords.iter().enumerate() {
        let nums: Option<Vec<f64>> = pos
            .as_array()
            .map(|a| a.iter().map(|n| n.as_f64()).collect::<Option<Vec<f64>>>())
            .unwrap_or(None);
        let ok = match nums.as_deref() {
            Some([lng, lat]) | Some([lng, lat, _]) => {
                (-180.0..=180.0).contains(lng) && (-90.0..=90.0).contains(lat)
            }
            _ => false,
        };
        if !ok {
            return Err(format!(
                "coordinates[{i}] must be [longitude, latitude] in range"
            ));
        }
    }
    Ok(())
}

/// One premises as the round found it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Check {
    pub premises_id: i64,
    pub premises_name: String,
    pub result: CheckResult,
    pub note: Option<String>,
}

/// A case a round found.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PatrolCase {
    pub id: i64,
    /// 立案编号, e.g. 630106-2026-000123.
    pub case_no: String,
    pub title: String,
    pub severity: Severity,
    pub status: Status,
}

/// A recorded round.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Patrol {
    pub id: i64,
    pub kind: PatrolKind,
    /// The group, village or township of the round.
    pub region: RegionRef,
    pub theme: Option<String>,
    /// The day it counts for: `started_at` in FIREGRID_TZ (YYYY-MM-DD).
    pub local_date: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    /// When the server received it; kept apart from when it happened.
    pub recorded_at: DateTime<Utc>,
    /// The user who recorded it.
    pub recorded_by: i64,
    #[schema(value_type = Option<Object>)]
    pub track: Option<serde_json::Value>,
    pub checks: Vec<Check>,
    /// The cases it found, with their case numbers.
    pub hazards: Vec<PatrolCase>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tracks_are_line_strings_in_range() {
        let ok = json!({"type":"LineString","coordinates":[[101.6,36.5],[101.61,36.51,2300.0]]});
        assert!(check_line_string(&ok).is_ok());
        for bad in [
            json!({"type":"Point","coordinates":[101.6,36.5]}),
            json!({"type":"LineString","coordinates":[[101.6,36.5]]}),
            json!({"type":"LineString","coordinates":[[101.6,36.5],[200.0,36.5]]}),
            json!({"type":"LineString","coordinates":[[101.6,36.5],["a",36.5]]}),
            json!([1, 2]),
        ] {
            assert!(check_line_string(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn each_kind_covers_its_tier() {
        assert_eq!(PatrolKind::Patrol.level(), RegionLevel::Group);
        assert_eq!(PatrolKind::VillageCheck.level(), RegionLevel::Village);
        assert_eq!(
            PatrolKind::TownshipInspection.level(),
            RegionLevel::Township
        );
        assert_eq!(PatrolKind::TownshipInspection.source(), Source::Inspection);
        assert!(PatrolKind::Patrol
            .recorders()
            .contains(&Role::GridCoordinator));
    }
}
