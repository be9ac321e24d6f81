//! Responsible supervisors (分片包干) who stop qualifying. A supervisor holds their post through
//! a role on the parent region (`RegionLevel::supervisor_roles`); when a revoked role or a
//! disabled account takes the last such role away, the post becomes vacant in the same
//! transaction, and the parent tier's officials — who would name the next one — are told. A
//! post that merely stayed filled would send overdue cases to someone who no longer answers
//! for the grid.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::regions;
use crate::db::DbConn;
use crate::error::AppResult;
use crate::notifications::store as notif_store;
use crate::regions::model::RegionRow;
use crate::regions::store;
use crate::vocab::NotificationKind;

/// Vacates every post `user_id` holds without still qualifying for it (call after removing a
/// role or disabling the account, inside the same transaction); returns the vacated regions.
pub fn release_lapsed(
    conn: &mut DbConn,
    user_id: i64,
    now: NaiveDateTime,
) -> AppResult<Vec<RegionRow>> {
    let held: Vec<RegionRow> = regions::table
        .filter(regions::supervisor_user_id.eq(user_id))
        .order(regions::id.asc())
        .select(RegionRow::as_select())
        .load(conn)?;
    let mut vacated = Vec::new();
    for region in held {
        let roles = region.level.supervisor_roles();
        // A supervisor is only ever set below a parent (`PUT /regions/{id}/supervisor`).
        let officials = match region.parent_id {
            Some(parent) => store::role_holders(conn, roles, parent)?,
            None => Vec::new(),
        };
        if officials.contains(&user_id) {
            continue;
        }
        let region = store::set_supervisor(conn, region.id, None, now)?;
        let message = format!(
            "{}（{}）的分片包干责任人已空缺，请指定新的责任人 (supervisor vacant)",
            region.name, region.code
        );
        notif_store::send(
            conn,
            &officials,
            None,
            None,
            NotificationKind::SupervisorVacant,
            &message,
            now,
        )?;
        vacated.push(region);
    }
    Ok(vacated)
}
