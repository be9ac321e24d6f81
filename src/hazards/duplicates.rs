//! Possible duplicates (疑似重复): when a report arrives, staff see the open cases that may be
//! the same hazard — in the same group at the same premises, or within 100 m with the same
//! category — received in the 30 days before it. They may then close the new report as a
//! `duplicate` of one (`reject_report` or `approve_closure` with `duplicate_of`); a public
//! reporter's tracking code then follows the original (`public::store::public_view`).
//!
//! Candidates come from the same county (a 100 m circle across a county border is left out),
//! through the `(county_id, category, lat)` index (a latitude band of ±100 m), and are measured
//! here.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::principal::Principal;
use crate::db::schema::hazards;
use crate::db::DbConn;
use crate::error::AppResult;
use crate::hazards::model::{Category, Status};
use crate::hazards::store::HazardRow;

/// How near two reports of the same category must be (metres).
pub const RADIUS_M: f64 = 100.0;
/// How far back to look (days).
pub const WINDOW_DAYS: i64 = 30;
const MAX_SHOWN: i64 = 20;

/// A case that may be the same hazard.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PossibleDuplicate {
    pub id: i64,
    pub case_no: String,
    /// Metres between the two, when both have coordinates.
    pub distance_m: Option<f64>,
}

/// (id, case number, path, lat, lng) of a case near the report.
type Nearby = (i64, String, String, Option<f64>, Option<f64>);

/// Great-circle distance in metres (haversine; ample at 100 m).
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let r = 6_371_008.8_f64;
    let (la1, la2) = (a.0.to_radians(), b.0.to_radians());
    let dla = la2 - la1;
    let dlo = (b.1 - a.1).to_radians();
    let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
    2.0 * r * h.sqrt().asin()
}

/// What the search needs of a case: a stored one, or a new report before it is stored (whose
/// reply is prepared before its write is queued: `hazards::store::reply_facts`).
#[derive(Debug, Clone)]
pub struct Probe {
    /// `None` for a report not stored yet.
    pub id: Option<i64>,
    pub county_id: i64,
    pub group_id: i64,
    pub premises_id: Option<i64>,
    pub category: Category,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub created_at: NaiveDateTime,
}

impl From<&HazardRow> for Probe {
    fn from(r: &HazardRow) -> Probe {
        Probe {
            id: Some(r.id),
            county_id: r.county_id,
            group_id: r.group_id,
            premises_id: r.premises_id,
            category: r.category,
            lat: r.lat,
            lng: r.lng,
            created_at: r.created_at,
        }
    }
}

/// The open cases `p` can see that may duplicate `case`, nearest first.
pub fn of(conn: &mut DbConn, p: &Principal, case: &Probe) -> AppResult<Vec<PossibleDuplicate>> {
    // Ids start at 1: a report not stored yet excludes nothing (and the statement keeps one
    // shape, so it stays prepared).
    let own_id = case.id.unwrap_or(0);
    // The three open statuses spelt out rather than `eq_any`: diesel never keeps a statement
    // with an `IN (…)` list prepared on SQLite, and this one runs on every read of an open case.
    let open = hazards::status
        .eq(Status::PendingVerification)
        .or(hazards::status.eq(Status::Open))
        .or(hazards::status.eq(Status::AwaitingReview));
    let since = case.created_at - Duration::days(WINDOW_DAYS);
    let mut found: Vec<PossibleDuplicate> = Vec::new();
    if let Some(premises) = case.premises_id {
        let rows: Vec<(i64, String, String)> = hazards::table
            .filter(hazards::group_id.eq(case.group_id))
            .filter(hazards::premises_id.eq(premises))
            .filter(hazards::id.ne(own_id))
            .filter(open)
            .filter(hazards::created_at.ge(since))
            .filter(hazards::created_at.le(case.created_at))
            .select((hazards::id, hazards::case_no, hazards::region_path))
            .order(hazards::id.desc())
            .limit(MAX_SHOWN)
            .load(conn)?;
        found.extend(
            rows.into_iter()
                .filter(|(_, _, path)| p.scope.contains(path))
                .map(|(id, case_no, _)| PossibleDuplicate {
                    id,
                    case_no,
                    distance_m: None,
                }),
        );
    }
    if let (Some(lat), Some(lng)) = (case.lat, case.lng) {
        // A box around the circle, then the circle.
        let dlat = RADIUS_M / 111_320.0;
        let dlng = RADIUS_M / (111_320.0 * lat.to_radians().cos().abs().max(0.01));
        let rows: Vec<Nearby> = hazards::table
            .filter(hazards::county_id.eq(case.county_id))
            .filter(hazards::category.eq(case.category))
            .filter(hazards::created_at.ge(since))
            .filter(hazards::created_at.le(case.created_at))
            .filter(hazards::id.ne(own_id))
            .filter(open)
            .filter(hazards::lat.between(lat - dlat, lat + dlat))
            .filter(hazards::lng.between(lng - dlng, lng + dlng))
            .select((
                hazards::id,
                hazards::case_no,
                hazards::region_path,
                hazards::lat,
                hazards::lng,
            ))
            .limit(200)
            .load(conn)?;
        for (id, case_no, path, olat, olng) in rows {
            let (Some(olat), Some(olng)) = (olat, olng) else {
                continue;
            };
            let d = distance_m((lat, lng), (olat, olng));
            if d > RADIUS_M || !p.scope.contains(&path) {
                continue;
            }
            match found.iter_mut().find(|f| f.id == id) {
                Some(f) => f.distance_m = Some(d),
                None => found.push(PossibleDuplicate {
                    id,
                    case_no,
                    distance_m: Some(d),
                }),
            }
        }
    }
    found.sort_by(|a, b| {
        a.distance_m
            .unwrap_or(0.0)
            .total_cmp(&b.distance_m.unwrap_or(0.0))
            .then(b.id.cmp(&a.id))
    });
    found.truncate(MAX_SHOWN as usize);
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_on_the_ground() {
        // 0.0009° of latitude is about 100 m anywhere.
        let d = distance_m((36.5, 101.5), (36.5009, 101.5));
        assert!((d - 100.1).abs() < 0.5, "{d}");
        // At 36.5° N a degree of longitude is about 89.5 km.
        let d = distance_m((36.5, 101.5), (36.5, 101.501));
        assert!((d - 89.5).abs() < 0.5, "{d}");
        assert_eq!(distance_m((36.5, 101.5), (36.5, 101.5)), 0.0);
    }
}
