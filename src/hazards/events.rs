//! The case timeline: append-only events, each carrying SHA-256 over the previous event's hash
//! and its own content, so that any change to the stored history is detectable
//! (`firegrid audit verify`). The database refuses UPDATE and DELETE on the table as well.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::db::schema::{hazard_events, users};
use crate::db::DbConn;
use crate::error::AppResult;
use crate::per_backend;
use crate::vocab::{EventAction, Level, Status};

/// The hash the first event of a case chains to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = hazard_events)]
pub struct EventRow {
    pub id: i64,
    pub hazard_id: i64,
    pub seq: i32,
    pub action: EventAction,
    pub actor_user_id: Option<i64>,
    pub from_status: Option<Status>,
    pub to_status: Status,
    pub from_level: Option<Level>,
    pub to_level: Level,
    pub params: String,
    pub created_at: NaiveDateTime,
    pub prev_hash: String,
    pub hash: String,
}

/// What goes into a new event; `append` adds sequence, time and hashes.
pub struct NewEvent<'a> {
    pub hazard_id: i64,
    pub action: EventAction,
    pub actor_user_id: Option<i64>,
    pub from_status: Option<Status>,
    pub to_status: Status,
    pub from_level: Option<Level>,
    pub to_level: Level,
    pub params: &'a serde_json::Value,
}

/// The hash of one event: every stored field, in a fixed order, one per line, the parameters
/// (the only free text) last, exactly as stored.
#[allow(clippy::too_many_arguments)]
pub fn compute_hash(
    prev_hash: &str,
    hazard_id: i64,
    seq: i32,
    action: &str,
    actor_user_id: Option<i64>,
    from_status: Option<&str>,
    to_status: &str,
    from_level: Option<&str>,
    to_level: &str,
    created_at: NaiveDateTime,
    params: &str,
) -> String {
    let actor = actor_user_id.map_or_else(|| "system".to_string(), |a| a.to_string());
    let content = format!(
        "{prev_hash}\n{hazard_id}\n{seq}\n{action}\n{actor}\n{}\n{to_status}\n{}\n{to_level}\n{}\n{params}",
        from_status.unwrap_or("-"),
        from_level.unwrap_or("-"),
        created_at.format("%Y-%m-%dT%H:%M:%S%.6fZ"),
    );
    hex::encode(Sha256::digest(content.as_bytes()))
}

impl EventRow {
    pub fn recompute(&self) -> String {
        compute_hash(
            &self.prev_hash,
            self.hazard_id,
            self.seq,
            self.action.as_str(),
            self.actor_user_id,
            self.from_status.map(Status::as_str),
            self.to_status.as_str(),
            self.from_level.map(Level::as_str),
            self.to_level.as_str(),
            self.created_at,
            &self.params,
        )
    }
}

/// An event ready to store: its place in the case's chain and its hashes filled in.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = hazard_events)]
struct Sealed {
    hazard_id: i64,
    seq: i32,
    action: EventAction,
    actor_user_id: Option<i64>,
    from_status: Option<Status>,
    to_status: Status,
    from_level: Option<Level>,
    to_level: Level,
    params: String,
    created_at: NaiveDateTime,
    prev_hash: String,
    hash: String,
}

/// Chains `e` after the case's last event (`None`: it is the first).
fn seal(e: &NewEvent<'_>, last: Option<(i32, String)>, now: NaiveDateTime) -> Sealed {
    let (seq, prev_hash) = match last {
        Some((s, h)) => (s + 1, h),
        None => (1, GENESIS.to_string()),
    };
    let params = e.params.to_string();
    let hash = compute_hash(
        &prev_hash,
        e.hazard_id,
        seq,
        e.action.as_str(),
        e.actor_user_id,
        e.from_status.map(Status::as_str),
        e.to_status.as_str(),
        e.from_level.map(Level::as_str),
        e.to_level.as_str(),
        now,
        &params,
    );
    Sealed {
        hazard_id: e.hazard_id,
        seq,
        action: e.action,
        actor_user_id: e.actor_user_id,
        from_status: e.from_status,
        to_status: e.to_status,
        from_level: e.from_level,
        to_level: e.to_level,
        params,
        created_at: now,
        prev_hash,
        hash,
    }
}

/// Appends an event after the case's last one. Callers hold the case row (its version check
/// in the same transaction), so no other event of this case is being written concurrently.
pub fn append(conn: &mut DbConn, e: NewEvent<'_>, now: NaiveDateTime) -> AppResult<EventRow> {
    let last: Option<(i32, String)> = hazard_events::table
        .filter(hazard_events::hazard_id.eq(e.hazard_id))
        .order(hazard_events::seq.desc())
        .select((hazard_events::seq, hazard_events::hash))
        .first(conn)
        .optional()?;
    store(conn, seal(&e, last, now))
}

/// The first event of a case created in this transaction: there is nothing before it to read.
pub fn append_first(conn: &mut DbConn, e: NewEvent<'_>, now: NaiveDateTime) -> AppResult<EventRow> {
    store(conn, seal(&e, None, now))
}

fn store(conn: &mut DbConn, s: Sealed) -> AppResult<EventRow> {
    // Built per backend: through the connection enum SQLite prepared this insert afresh every
    // time (it runs on the SQLite writer thread once per change of a case).
    let insert = diesel::insert_into(hazard_events::table).values(&s);
    let id: i64 = per_backend!(conn, |c| insert.returning(hazard_events::id).get_result(c))?;
    Ok(EventRow {
        id,
        hazard_id: s.hazard_id,
        seq: s.seq,
        action: s.action,
        actor_user_id: s.actor_user_id,
        from_status: s.from_status,
        to_status: s.to_status,
        from_level: s.from_level,
        to_level: s.to_level,
        params: s.params,
        created_at: s.created_at,
        prev_hash: s.prev_hash,
        hash: s.hash,
    })
}

/// Appends one event to each of several distinct cases (the deadline sweep's batch): their
/// last events are read in one query and the new ones written in multi-row INSERTs (built per
/// backend). The same holding of the case rows as for `append` applies.
pub fn append_many(
    conn: &mut DbConn,
    events: &[NewEvent<'_>],
    now: NaiveDateTime,
) -> AppResult<()> {
    let ids: Vec<i64> = events.iter().map(|e| e.hazard_id).collect();
    let mut last: HashMap<i64, (i32, String)> = HashMap::new();
    for chunk in ids.chunks(1000) {
        let rows: Vec<(i64, i32, String)> = hazard_events::table
            .filter(hazard_events::hazard_id.eq_any(chunk))
            .select((
                hazard_events::hazard_id,
                hazard_events::seq,
                hazard_events::hash,
            ))
            .load(conn)?;
        for (hazard_id, seq, hash) in rows {
            let slot = last.entry(hazard_id).or_insert((seq, String::new()));
            if seq >= slot.0 {
                *slot = (seq, hash);
            }
        }
    }
    let sealed: Vec<Sealed> = events
        .iter()
        .map(|e| seal(e, last.remove(&e.hazard_id), now))
        .collect();
    // 12 columns: 500 rows stay well inside SQLite's and PostgreSQL's bind-parameter limits.
    for chunk in sealed.chunks(500) {
        let insert = diesel::insert_into(hazard_events::table).values(chunk);
        per_backend!(conn, |c| insert.execute(c))?;
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Actor {
    pub id: i64,
    pub display_name: String,
}

/// One entry of a case's timeline.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Event {
    pub seq: i32,
    pub action: EventAction,
    /// Null when the system acted.
    pub actor: Option<Actor>,
    pub from_status: Option<Status>,
    pub to_status: Status,
    pub from_level: Option<Level>,
    pub to_level: Level,
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// SHA-256 over the previous event's hash and this event's content.
    pub hash: String,
}

/// Up to `fetch` events of a case after sequence number `after_seq`, oldest first.
pub fn timeline(
    conn: &mut DbConn,
    hazard_id: i64,
    after_seq: Option<i64>,
    fetch: i64,
) -> AppResult<Vec<Event>> {
    // A sequence number beyond i32 cannot exist: the page after it is empty.
    let after = after_seq.map_or(0, |s| i32::try_from(s).unwrap_or(i32::MAX));
    let rows: Vec<(EventRow, Option<String>)> = hazard_events::table
        .left_join(users::table.on(hazard_events::actor_user_id.eq(users::id.nullable())))
        .filter(hazard_events::hazard_id.eq(hazard_id))
        .filter(hazard_events::seq.gt(after))
        .order(hazard_events::seq.asc())
        .limit(fetch)
        .select((EventRow::as_select(), users::display_name.nullable()))
        .load(conn)?;
    Ok(rows.into_iter().map(|(r, name)| to_api(r, name)).collect())
}

/// The API view of a stored event; `actor_name` is the actor's display name.
pub fn to_api(r: EventRow, actor_name: Option<String>) -> Event {
    Event {
        seq: r.seq,
        actor: r.actor_user_id.map(|id| Actor {
            id,
            display_name: actor_name.unwrap_or_default(),
        }),
        action: r.action,
        from_status: r.from_status,
        to_status: r.to_status,
        from_level: r.from_level,
        to_level: r.to_level,
        params: serde_json::from_str(&r.params).unwrap_or(serde_json::Value::Null),
        created_at: r.created_at.and_utc(),
        hash: r.hash,
    }
}

/// A case whose stored chain does not verify, and where it breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenChain {
    pub hazard_id: i64,
    pub seq: i32,
    pub reason: String,
}

/// Recomputes every chain, reading events in pages so that millions fit in memory.
pub fn verify_all(conn: &mut DbConn) -> AppResult<(u64, Vec<BrokenChain>)> {
    let mut broken = Vec::new();
    let mut checked = 0u64;
    let mut after: (i64, i32) = (0, 0);
    // (hazard, expected next seq, expected prev hash); a broken case is reported once.
    let mut current: Option<(i64, i32, String, bool)> = None;
    loop {
        let page: Vec<EventRow> = hazard_events::table
            // The plain lower bound lets the (hazard_id, seq) index seek to the page; the OR
            // alone would make PostgreSQL rescan from the first event on every page.
            .filter(hazard_events::hazard_id.ge(after.0))
            .filter(
                hazard_events::hazard_id
                    .gt(after.0)
                    .or(hazard_events::hazard_id
                        .eq(after.0)
                        .and(hazard_events::seq.gt(after.1))),
            )
            .order((hazard_events::hazard_id.asc(), hazard_events::seq.asc()))
            .limit(5000)
            .select(EventRow::as_select())
            .load(conn)?;
        if page.is_empty() {
            break;
        }
        for e in &page {
            checked += 1;
            let (expected_seq, expected_prev, already_broken) = match &current {
                Some((h, seq, prev, b)) if *h == e.hazard_id => (*seq, prev.clone(), *b),
                _ => (1, GENESIS.to_string(), false),
            };
            let problem = if e.seq != expected_seq {
                Some(format!("expected event {expected_seq}, found {}", e.seq))
            } else if e.prev_hash != expected_prev {
                Some("prev_hash does not match the previous event".to_string())
            } else if e.recompute() != e.hash {
                Some("content does not match its hash".to_string())
            } else {
                None
            };
            let mut is_broken = already_broken;
            if let (Some(reason), false) = (problem, already_broken) {
                broken.push(BrokenChain {
                    hazard_id: e.hazard_id,
                    seq: e.seq,
                    reason,
                });
                is_broken = true;
            }
            current = Some((e.hazard_id, e.seq + 1, e.hash.clone(), is_broken));
            after = (e.hazard_id, e.seq);
        }
    }
    Ok((checked, broken))
}
