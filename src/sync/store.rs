//! What a phone needs, read in pages: first a snapshot of the caller's scope (entity by entity,
//! by id), then the change log (`sync_log`, written by triggers) from where the snapshot began,
//! in commit order. Each page names every entity that changed; what the caller can still see
//! comes as itself, what was deleted or left their scope as a tombstone.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::principal::Principal;
use crate::auth::scope::Scope;
use crate::db::schema::{
    hazard_events, hazards, notifications, premises, regions, role_assignments, sync_log, users,
};
use crate::db::DbConn;
use crate::error::AppResult;
use crate::hazards::events::{self, Event, EventRow};
use crate::hazards::store::{self as hazard_store, Hazard, HazardRow};
use crate::notifications::store::{Notification, NotificationRow};
use crate::premises::model::{Premises, PremisesRow};
use crate::premises::store as premises_store;
use crate::scope_filter;
use crate::sync::cursor::{Cursor, Position};
use crate::vocab::{Background, RegionLevel, Role, SyncEntity};

/// A region as the phone keeps it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SyncRegion {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub level: RegionLevel,
    pub name: String,
    pub code: String,
}

/// One role on a group's roster (一长三员).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RosterEntry {
    /// The role assignment's id.
    pub id: i64,
    pub group_id: i64,
    pub user_id: i64,
    pub display_name: String,
    pub phone: Option<String>,
    pub role: Role,
    pub background: Option<Background>,
}

/// An event of a case's timeline, with where it belongs.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SyncEvent {
    pub id: i64,
    pub hazard_id: i64,
    pub event: Event,
}

/// Something the phone must drop: deleted, or no longer in the caller's scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Tombstone {
    pub entity: SyncEntity,
    pub id: i64,
}

/// `GET /api/v1/sync`
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct SyncPage {
    /// True when the phone must first drop everything it holds: its cursor was issued for
    /// another scope (a role granted or revoked), and this is the start of a full sync.
    pub reset: bool,
    pub regions: Vec<SyncRegion>,
    pub premises: Vec<Premises>,
    pub roster: Vec<RosterEntry>,
    /// Cases in scope, each with `allowed_actions` for the caller.
    pub hazards: Vec<Hazard>,
    pub events: Vec<SyncEvent>,
    /// The caller's own notifications.
    pub notifications: Vec<Notification>,
    pub tombstones: Vec<Tombstone>,
    /// Pass as `?cursor=` next time (also when `has_more` is false: it is where this phone
    /// stands).
    pub next_cursor: String,
    /// Another page is ready now.
    pub has_more: bool,
}

/// The snapshot's order: regions before what lies in them, cases before their events.
const SNAPSHOT: [SyncEntity; 6] = [
    SyncEntity::Region,
    SyncEntity::Premises,
    SyncEntity::Roster,
    SyncEntity::Hazard,
    SyncEntity::HazardEvent,
    SyncEntity::Notification,
];

#[derive(QueryableByName)]
struct Num {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The part of the log that is final: rows of transactions that have all ended. On PostgreSQL,
/// those below the oldest transaction still running (`pg_snapshot_xmin`): a transaction that
/// took its positions earlier but commits later is still running, so nothing after it is read
/// until it ends. On SQLite the write lock hands out positions in commit order, so every row up
/// to the highest committed position is final.
#[derive(Debug, Clone, Copy)]
struct Bound {
    below_txid: i64,
    max_pos: i64,
}

fn bound(conn: &mut DbConn) -> AppResult<Bound> {
    Ok(match conn {
        DbConn::Pg(c) => Bound {
            below_txid: diesel::sql_query(
                "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS n",
            )
            .get_result::<Num>(c)?
            .n,
            max_pos: i64::MAX,
        },
        DbConn::Sqlite(c) => Bound {
            below_txid: 1,
            max_pos: diesel::sql_query("SELECT coalesce(max(pos), 0) AS n FROM sync_log")
                .get_result::<Num>(c)?
                .n,
        },
    })
}

/// The PostgreSQL triggers that write `sync_log`, by table.
const PG_LOG_TRIGGERS: [(&str, &str); 6] = [
    ("regions", "sync_regions"),
    ("premises", "sync_premises"),
    ("role_assignments", "sync_roster"),
    ("hazards", "sync_hazards"),
    ("hazard_events", "sync_events"),
    ("notifications", "sync_notifications"),
];

/// Turns the log's triggers off or on, in the connection's transaction: for a bulk copy that
/// brings its own log (`firegrid migrate-data`).
pub fn pg_log_triggers(
    conn: &mut diesel::PgConnection,
    enabled: bool,
) -> Result<(), crate::error::CommandError> {
    use diesel::connection::SimpleConnection;
    let verb = if enabled { "ENABLE" } else { "DISABLE" };
    let sql: String = PG_LOG_TRIGGERS
        .iter()
        .map(|(table, trigger)| format!("ALTER TABLE {table} {verb} TRIGGER {trigger};"))
        .collect();
    conn.batch_execute(&sql).map_err(|e| {
        crate::error::CommandError::caused_by("cannot switch the sync log's triggers", e)
    })
}

/// The log position up to which every row is final now: nothing can later appear at or before
/// it. Where a first sync's log takes over from its snapshot, and what a prune mark records.
pub fn final_position(conn: &mut DbConn) -> AppResult<Position> {
    let b = bound(conn)?;
    Ok(match conn {
        DbConn::Pg(_) => Position {
            txid: b.below_txid - 1,
            pos: i64::MAX,
        },
        DbConn::Sqlite(_) => Position {
            txid: 0,
            pos: b.max_pos,
        },
    })
}

/// A cursor for a first sync of this scope: the snapshot from its start, and the log from what
/// the snapshot cannot have seen (every transaction not yet ended now).
pub fn fresh(conn: &mut DbConn, user_id: i64, scope_fp: String) -> AppResult<Cursor> {
    Ok(Cursor {
        u: user_id,
        l: final_position(conn)?,
        s: scope_fp,
        k: Some((0, 0)),
    })
}

type LogRow = (i64, i64, SyncEntity);

fn after(
    at: Position,
) -> Box<
    dyn BoxableExpression<
        sync_log::table,
        crate::db::MultiBackend,
        SqlType = diesel::sql_types::Bool,
    >,
> {
    Box::new(
        sync_log::txid
            .gt(at.txid)
            .or(sync_log::txid.eq(at.txid).and(sync_log::pos.gt(at.pos))),
    )
}

/// Up to `limit` log rows after `at` that concern the caller, in commit order, and the
/// position to continue from.
fn read_log(
    conn: &mut DbConn,
    p: &Principal,
    at: Position,
    limit: i64,
) -> AppResult<(Vec<LogRow>, Position, bool)> {
    let b = bound(conn)?;
    let mine = sync_log::region_path
        .is_not_null()
        .and(scope_filter!(
            sync_log::region_path.assume_not_null(),
            &p.scope
        ))
        .or(sync_log::user_id.assume_not_null().eq(p.user_id));
    let rows: Vec<(i64, i64, SyncEntity, i64)> = sync_log::table
        .filter(after(at))
        .filter(sync_log::txid.lt(b.below_txid))
        .filter(sync_log::pos.le(b.max_pos))
        .filter(mine)
        .order((sync_log::txid.asc(), sync_log::pos.asc()))
        .limit(limit)
        .select((
            sync_log::txid,
            sync_log::pos,
            sync_log::entity,
            sync_log::entity_id,
        ))
        .load(conn)?;
    if rows.len() as i64 == limit {
        let last = rows.last().expect("a full page");
        let next = Position {
            txid: last.0,
            pos: last.1,
        };
        let rows = rows.into_iter().map(|(_, _, e, id)| (0, id, e)).collect();
        return Ok((rows, next, true));
    }
    // Everything that concerns the caller up to the bound was read: the cursor moves past the
    // rows about others too, so the next poll does not scan them again.
    let last: Option<(i64, i64)> = sync_log::table
        .filter(after(at))
        .filter(sync_log::txid.lt(b.below_txid))
        .filter(sync_log::pos.le(b.max_pos))
        .order((sync_log::txid.desc(), sync_log::pos.desc()))
        .select((sync_log::txid, sync_log::pos))
        .first(conn)
        .optional()?;
    let next = last.map_or(at, |(txid, pos)| Position { txid, pos });
    let rows = rows.into_iter().map(|(_, _, e, id)| (0, id, e)).collect();
    Ok((rows, next, false))
}

/// Adds the current state of `ids` of one entity to the page: what the caller sees as itself,
/// the rest as tombstones.
fn load(
    conn: &mut DbConn,
    p: &Principal,
    entity: SyncEntity,
    ids: &[i64],
    page: &mut SyncPage,
    now: NaiveDateTime,
) -> AppResult<()> {
    let mut seen: BTreeSet<i64> = BTreeSet::new();
    let scope = &p.scope;
    match entity {
        SyncEntity::Region => {
            let rows: Vec<(i64, Option<i64>, RegionLevel, String, String, String)> = regions::table
                .filter(regions::id.eq_any(ids))
                .order(regions::id)
                .select((
                    regions::id,
                    regions::parent_id,
                    regions::level,
                    regions::name,
                    regions::code,
                    regions::path,
                ))
                .load(conn)?;
            for (id, parent_id, level, name, code, path) in rows {
                if scope.contains(&path) {
                    seen.insert(id);
                    page.regions.push(SyncRegion {
                        id,
                        parent_id,
                        level,
                        name,
                        code,
                    });
                }
            }
        }
        SyncEntity::Premises => {
            let rows: Vec<PremisesRow> = premises::table
                .filter(premises::id.eq_any(ids))
                .order(premises::id)
                .select(PremisesRow::as_select())
                .load(conn)?;
            let rows: Vec<PremisesRow> = rows
                .into_iter()
                .filter(|r| scope.contains(&r.region_path))
                .collect();
            seen.extend(rows.iter().map(|r| r.id));
            page.premises.extend(premises_store::to_api(conn, &rows)?);
        }
        SyncEntity::Roster => {
            for e in roster(conn, scope, RosterSel::Ids(ids))? {
                seen.insert(e.id);
                page.roster.push(e);
            }
        }
        SyncEntity::Hazard => {
            let rows: Vec<HazardRow> = hazard_store::get_many(conn, ids)?
                .into_iter()
                .filter(|r| scope.contains(&r.region_path))
                .collect();
            seen.extend(rows.iter().map(|r| r.id));
            page.hazards
                .extend(hazard_store::to_api(conn, &rows, Some(p), now)?);
        }
        SyncEntity::HazardEvent => {
            for e in events_of(conn, scope, EventSel::Ids(ids))? {
                seen.insert(e.id);
                page.events.push(e);
            }
        }
        SyncEntity::Notification => {
            let rows: Vec<NotificationRow> = notifications::table
                .filter(notifications::id.eq_any(ids))
                .filter(notifications::user_id.eq(p.user_id))
                .order(notifications::id)
                .select(NotificationRow::as_select())
                .load(conn)?;
            seen.extend(rows.iter().map(|r| r.id));
            page.notifications.extend(rows.iter().map(|r| r.to_api()));
        }
    }
    page.tombstones.extend(
        ids.iter()
            .filter(|id| !seen.contains(id))
            .map(|&id| Tombstone { entity, id }),
    );
    Ok(())
}

/// (assignment, group, user, display name, phone, role, background)
type RosterLine = (
    i64,
    i64,
    i64,
    String,
    Option<String>,
    Role,
    Option<Background>,
);

enum RosterSel<'a> {
    Ids(&'a [i64]),
    After(i64, i64),
}

/// Roles bound to groups in scope (by assignment id), with the people holding them.
fn roster(conn: &mut DbConn, scope: &Scope, sel: RosterSel) -> AppResult<Vec<RosterEntry>> {
    let mut q = role_assignments::table
        .inner_join(users::table)
        .inner_join(regions::table.on(role_assignments::region_id.eq(regions::id.nullable())))
        .filter(regions::level.eq(RegionLevel::Group))
        .filter(scope_filter!(regions::path, scope))
        .order(role_assignments::id)
        .select((
            role_assignments::id,
            regions::id,
            users::id,
            users::display_name,
            users::phone,
            role_assignments::role,
            role_assignments::background,
        ))
        .into_boxed();
    q = match sel {
        RosterSel::Ids(ids) => q.filter(role_assignments::id.eq_any(ids.to_vec())),
        RosterSel::After(after, limit) => q.filter(role_assignments::id.gt(after)).limit(limit),
    };
    let rows: Vec<RosterLine> = q.load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, group_id, user_id, display_name, phone, role, background)| RosterEntry {
                id,
                group_id,
                user_id,
                display_name,
                phone,
                role,
                background,
            },
        )
        .collect())
}

enum EventSel<'a> {
    Ids(&'a [i64]),
    After(i64, i64),
}

/// Events of cases in scope, by id.
fn events_of(conn: &mut DbConn, scope: &Scope, sel: EventSel) -> AppResult<Vec<SyncEvent>> {
    let mut q = hazard_events::table
        .inner_join(hazards::table)
        .left_join(users::table.on(hazard_events::actor_user_id.eq(users::id.nullable())))
        .filter(scope_filter!(hazards::region_path, scope))
        .order(hazard_events::id)
        .select((EventRow::as_select(), users::display_name.nullable()))
        .into_boxed();
    q = match sel {
        EventSel::Ids(ids) => q.filter(hazard_events::id.eq_any(ids.to_vec())),
        EventSel::After(after, limit) => q.filter(hazard_events::id.gt(after)).limit(limit),
    };
    let rows: Vec<(EventRow, Option<String>)> = q.load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(r, name)| SyncEvent {
            id: r.id,
            hazard_id: r.hazard_id,
            event: events::to_api(r, name),
        })
        .collect())
}

/// Up to `limit` entities of one kind in scope after id `after`, added to the page; the last
/// id added.
fn snapshot_part(
    conn: &mut DbConn,
    p: &Principal,
    entity: SyncEntity,
    after: i64,
    limit: i64,
    page: &mut SyncPage,
    now: NaiveDateTime,
) -> AppResult<(usize, Option<i64>)> {
    let scope = &p.scope;
    let ids: Vec<i64> = match entity {
        SyncEntity::Region => regions::table
            .filter(scope_filter!(regions::path, scope))
            .filter(regions::id.gt(after))
            .order(regions::id)
            .limit(limit)
            .select(regions::id)
            .load(conn)?,
        SyncEntity::Premises => premises::table
            .filter(scope_filter!(premises::region_path, scope))
            .filter(premises::id.gt(after))
            .order(premises::id)
            .limit(limit)
            .select(premises::id)
            .load(conn)?,
        SyncEntity::Hazard => hazards::table
            .filter(scope_filter!(hazards::region_path, scope))
            .filter(hazards::id.gt(after))
            .order(hazards::id)
            .limit(limit)
            .select(hazards::id)
            .load(conn)?,
        SyncEntity::Notification => notifications::table
            .filter(notifications::user_id.eq(p.user_id))
            .filter(notifications::id.gt(after))
            .order(notifications::id)
            .limit(limit)
            .select(notifications::id)
            .load(conn)?,
        SyncEntity::Roster => {
            let rows = roster(conn, scope, RosterSel::After(after, limit))?;
            let last = rows.last().map(|r| r.id);
            let n = rows.len();
            page.roster.extend(rows);
            return Ok((n, last));
        }
        SyncEntity::HazardEvent => {
            let rows = events_of(conn, scope, EventSel::After(after, limit))?;
            let last = rows.last().map(|r| r.id);
            let n = rows.len();
            page.events.extend(rows);
            return Ok((n, last));
        }
    };
    let before = page.tombstones.len();
    load(conn, p, entity, &ids, page, now)?;
    // Read in scope a moment ago: nothing to drop here.
    page.tombstones.truncate(before);
    Ok((ids.len(), ids.last().copied()))
}

/// One page from `cur`: the rest of the snapshot if one is under way, then the log.
pub fn page(
    conn: &mut DbConn,
    p: &Principal,
    mut cur: Cursor,
    limit: i64,
    now: NaiveDateTime,
) -> AppResult<(SyncPage, Cursor)> {
    let mut page = SyncPage::default();
    let mut budget = limit;
    while let Some((index, after)) = cur.k {
        let Some(&entity) = SNAPSHOT.get(usize::from(index)) else {
            cur.k = None;
            break;
        };
        let (n, last) = snapshot_part(conn, p, entity, after, budget, &mut page, now)?;
        budget -= n as i64;
        if budget <= 0 {
            cur.k = Some((index, last.unwrap_or(after)));
            page.has_more = true;
            return Ok((page, cur));
        }
        cur.k = Some((index + 1, 0));
    }
    let (rows, next, more) = read_log(conn, p, cur.l, budget)?;
    let mut by_entity: HashMap<SyncEntity, Vec<i64>> = HashMap::new();
    for (_, id, entity) in rows {
        by_entity.entry(entity).or_default().push(id);
    }
    for entity in SNAPSHOT {
        if let Some(ids) = by_entity.get_mut(&entity) {
            ids.sort_unstable();
            ids.dedup();
            load(conn, p, entity, ids, &mut page, now)?;
        }
    }
    cur.l = next;
    page.has_more = more;
    Ok((page, cur))
}
