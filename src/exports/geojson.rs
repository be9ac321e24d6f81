//! `hazards.geojson`: a FeatureCollection (RFC 7946, WGS 84 longitude/latitude) of the filtered
//! cases that have coordinates, followed by the premises (一格多点) with coordinates in the
//! same region and scope; streamed a page at a time.

use actix_web::web::Bytes;
use chrono::NaiveDateTime;
use serde_json::json;

use crate::exports::{zh, Names};
use crate::hazards::store::HazardRow;
use crate::premises::model::PremisesRow;

pub const HEAD: &str = r#"{"type":"FeatureCollection","features":["#;
pub const TAIL: &str = "]}\n";

/// Features of a page of cases; `first` says whether a feature has been written before.
pub fn cases(rows: &[HazardRow], names: &Names, now: NaiveDateTime, first: &mut bool) -> Bytes {
    let mut out = String::new();
    for r in rows {
        let (Some(lat), Some(lng)) = (r.lat, r.lng) else {
            continue;
        };
        let overdue =
            r.status == crate::hazards::model::Status::Open && r.deadline.is_some_and(|d| d < now);
        let f = json!({
            "type": "Feature",
            "id": format!("hazard-{}", r.id),
            "geometry": {"type": "Point", "coordinates": [lng, lat]},
            "properties": {
                "kind": "hazard",
                "id": r.id,
                "case_no": r.case_no,
                "title": r.title,
                "category": r.category,
                "category_zh": zh::category(r.category),
                "severity": r.severity,
                "status": r.status,
                "level": r.level,
                "overdue": overdue,
                "supervision_listed": r.supervision_listed,
                "group_id": r.group_id,
                "group": names.get(r.group_id),
                "created_at": r.created_at.and_utc(),
            }
        });
        push(&mut out, &f.to_string(), first);
    }
    Bytes::from(out)
}

/// Features of a page of premises (name, category, address, signage; no contact).
pub fn premises(rows: &[PremisesRow], first: &mut bool) -> Bytes {
    let mut out = String::new();
    for p in rows {
        let (Some(lat), Some(lng)) = (p.lat, p.lng) else {
            continue;
        };
        let f = json!({
            "type": "Feature",
            "id": format!("premises-{}", p.id),
            "geometry": {"type": "Point", "coordinates": [lng, lat]},
            "properties": {
                "kind": "premises",
                "id": p.id,
                "name": p.name,
                "category": p.category,
                "category_zh": zh::premises_category(p.category),
                "address": p.address,
                "signage": p.signage,
                "group_id": p.group_id,
            }
        });
        push(&mut out, &f.to_string(), first);
    }
    Bytes::from(out)
}

fn push(out: &mut String, feature: &str, first: &mut bool) {
    if !*first {
        out.push(',');
    }
    *first = false;
    out.push_str(feature);
}
