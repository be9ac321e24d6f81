//! The supervision board (督办看板): the cases listed for supervision (挂牌督办) that are not
//! finished, and the open cases past their deadline, in a region's subtree, grouped by county
//! and township, each with how long it is overdue, the township's police station, the
//! responsible supervisor (分片包干) of the tier the case sits at, and the last action taken.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::scope::subtree_end;
use crate::db::schema::{hazard_events, hazards, organization_jurisdictions, organizations, users};
use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::hazards::model::{Level, Severity, Status};
use crate::hazards::store::HazardRow;
use crate::notifications::store::Place;
use crate::regions::model::{PersonRef, RegionRef, RegionRow};
use crate::regions::store as region_store;
use crate::vocab::{EventAction, OrgKind};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Board {
    pub region: RegionRef,
    /// When the board was read (days overdue count to this moment).
    pub as_of: chrono::DateTime<chrono::Utc>,
    /// Listed cases not yet closed.
    pub listed: i64,
    /// Open cases past their deadline.
    pub overdue: i64,
    pub counties: Vec<BoardCounty>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BoardCounty {
    pub county: RegionRef,
    pub townships: Vec<BoardTownship>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BoardTownship {
    pub township: RegionRef,
    /// The police station answering for the township (派出所), if any.
    pub police_station: Option<StationRef>,
    pub cases: Vec<BoardCase>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StationRef {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BoardCase {
    pub id: i64,
    pub case_no: String,
    pub title: String,
    pub group: RegionRef,
    pub severity: Severity,
    pub status: Status,
    pub level: Level,
    pub supervision_listed: bool,
    pub supervision_overdue: bool,
    pub deadline: Option<chrono::DateTime<chrono::Utc>>,
    /// Open with its deadline passed.
    pub overdue: bool,
    /// Whole days since the deadline passed (0 within the first day); null when not overdue.
    pub days_overdue: Option<i64>,
    /// The responsible supervisor (分片包干) of the case's tier: its group, village, or (at
    /// township and police level) township.
    pub responsible_supervisor: Option<PersonRef>,
    pub last_action: LastAction,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LastAction {
    pub action: EventAction,
    pub at: chrono::DateTime<chrono::Utc>,
    /// Who took it; null for the system (the deadline sweep).
    pub actor: Option<String>,
}

/// The board cases under `path`: listed and unfinished, or open and overdue at `now`.
pub fn board_rows(conn: &mut DbConn, path: &str, now: NaiveDateTime) -> AppResult<Vec<HazardRow>> {
    let within = || {
        hazards::table
            .filter(hazards::region_path.ge(path.to_string()))
            .filter(hazards::region_path.lt(subtree_end(path)))
            .select(HazardRow::as_select())
    };
    let mut rows: Vec<HazardRow> = within()
        .filter(hazards::supervision_listed.eq(true))
        .filter(hazards::status.eq_any([Status::Open, Status::AwaitingReview]))
        .load(conn)?;
    rows.extend(
        within()
            .filter(hazards::status.eq(Status::Open))
            .filter(hazards::deadline.lt(now))
            .load::<HazardRow>(conn)?,
    );
    rows.sort_by_key(|r| r.id);
    rows.dedup_by_key(|r| r.id);
    Ok(rows)
}

/// A region's code and id: orders regions by code.
type CodeAndId = (String, i64);

pub fn board(conn: &mut DbConn, root: &RegionRow, now: NaiveDateTime) -> AppResult<Board> {
    let rows = board_rows(conn, &root.path, now)?;
    let places: Vec<Place> = rows
        .iter()
        .map(HazardRow::place)
        .collect::<AppResult<_>>()?;
    // Every region the board names, read once.
    let mut ids: Vec<i64> = places
        .iter()
        .flat_map(|p| [p.county_id, p.township_id, p.village_id, p.group_id])
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut regions: HashMap<i64, RegionRow> = HashMap::new();
    for chunk in ids.chunks(1000) {
        regions.extend(
            region_store::get_many(conn, chunk)?
                .into_iter()
                .map(|r| (r.id, r)),
        );
    }
    let townships: Vec<i64> = places.iter().map(|p| p.township_id).collect();
    let stations = stations_of(conn, &townships)?;
    let supervisor_ids: Vec<i64> = regions
        .values()
        .filter_map(|r| r.supervisor_user_id)
        .collect();
    let people = region_store::people(conn, &supervisor_ids)?;
    let last = last_actions(conn, &rows.iter().map(|r| r.id).collect::<Vec<_>>())?;

    let region_ref = |id: i64| -> AppResult<RegionRef> {
        regions
            .get(&id)
            .map(RegionRow::to_ref)
            .ok_or_else(|| AppError::internal("board region missing"))
    };
    // county code → township code → cases
    let mut grouped: BTreeMap<CodeAndId, BTreeMap<CodeAndId, Vec<BoardCase>>> = BTreeMap::new();
    let (mut listed, mut overdue) = (0, 0);
    for (row, place) in rows.iter().zip(&places) {
        let tier = match row.level {
            Level::Group => place.group_id,
            Level::Village => place.village_id,
            Level::Township | Level::Police => place.township_id,
        };
        let is_overdue = row.status == Status::Open && row.deadline.is_some_and(|d| d < now);
        listed += i64::from(row.supervision_listed);
        overdue += i64::from(is_overdue);
        let case = BoardCase {
            id: row.id,
            case_no: row.case_no.clone(),
            title: row.title.clone(),
            group: region_ref(place.group_id)?,
            severity: row.severity,
            status: row.status,
            level: row.level,
            supervision_listed: row.supervision_listed,
            supervision_overdue: row.supervision_overdue,
            deadline: row.deadline.map(|d| d.and_utc()),
            overdue: is_overdue,
            days_overdue: row
                .deadline
                .filter(|_| is_overdue)
                .map(|d| (now - d).num_days()),
            responsible_supervisor: regions
                .get(&tier)
                .and_then(|r| r.supervisor_user_id)
                .and_then(|u| people.get(&u).cloned()),
            last_action: last
                .get(&row.id)
                .cloned()
                .ok_or_else(|| AppError::internal("case without events"))?,
        };
        let county = region_ref(place.county_id)?;
        let township = region_ref(place.township_id)?;
        grouped
            .entry((county.code.clone(), county.id))
            .or_default()
            .entry((township.code.clone(), township.id))
            .or_default()
            .push(case);
    }
    let mut counties = Vec::new();
    for ((_, county_id), towns) in grouped {
        let mut townships = Vec::new();
        for ((_, township_id), mut cases) in towns {
            // Longest overdue first, then listed, then by case number.
            cases.sort_by(|a, b| {
                b.days_overdue
                    .cmp(&a.days_overdue)
                    .then(b.supervision_listed.cmp(&a.supervision_listed))
                    .then(a.case_no.cmp(&b.case_no))
            });
            townships.push(BoardTownship {
                township: region_ref(township_id)?,
                police_station: stations.get(&township_id).cloned(),
                cases,
            });
        }
        counties.push(BoardCounty {
            county: region_ref(county_id)?,
            townships,
        });
    }
    Ok(Board {
        region: root.to_ref(),
        as_of: now.and_utc(),
        listed,
        overdue,
        counties,
    })
}

/// The police station of each township that has one (the lowest id should there be several).
pub fn stations_of(conn: &mut DbConn, townships: &[i64]) -> AppResult<HashMap<i64, StationRef>> {
    let mut ids = townships.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut out: HashMap<i64, StationRef> = HashMap::new();
    for chunk in ids.chunks(1000) {
        let rows: Vec<(i64, i64, String)> = organization_jurisdictions::table
            .inner_join(organizations::table)
            .filter(organization_jurisdictions::kind.eq(OrgKind::PoliceStation))
            .filter(organization_jurisdictions::region_id.eq_any(chunk))
            .order(organizations::id.asc())
            .select((
                organization_jurisdictions::region_id,
                organizations::id,
                organizations::name,
            ))
            .load(conn)?;
        for (township, id, name) in rows {
            out.entry(township).or_insert(StationRef { id, name });
        }
    }
    Ok(out)
}

/// The latest event of each case.
pub fn last_actions(conn: &mut DbConn, ids: &[i64]) -> AppResult<HashMap<i64, LastAction>> {
    let mut out: HashMap<i64, (i32, LastAction)> = HashMap::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<(i64, i32, EventAction, NaiveDateTime, Option<String>)> =
            hazard_events::table
                .left_join(users::table.on(hazard_events::actor_user_id.eq(users::id.nullable())))
                .filter(hazard_events::hazard_id.eq_any(chunk))
                .select((
                    hazard_events::hazard_id,
                    hazard_events::seq,
                    hazard_events::action,
                    hazard_events::created_at,
                    users::display_name.nullable(),
                ))
                .load(conn)?;
        for (id, seq, action, at, actor) in rows {
            let e = LastAction {
                action,
                at: at.and_utc(),
                actor,
            };
            match out.get(&id) {
                Some((s, _)) if *s >= seq => {}
                _ => {
                    out.insert(id, (seq, e));
                }
            }
        }
    }
    Ok(out.into_iter().map(|(k, (_, v))| (k, v)).collect())
}
