//! Roster queries: each answer is built from at most a few set queries, never one per group.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;

use crate::auth::roles::{Background, Role};
use crate::auth::scope::{subtree_end, Scope};
use crate::db::schema::{
    organization_jurisdictions, organizations, regions, role_assignments, users,
};
use crate::db::DbConn;
use crate::error::AppResult;
use crate::organizations::model::OrgKind;
use crate::organizations::store as org_store;
use crate::regions::model::{RegionLevel, RegionRow};
use crate::regions::store as region_store;
use crate::roster::model::{
    missing, rate, Committee, CommitteeOfficial, ComplianceTally, IncompleteGroup, Roster,
    RosterCompliance, RosterMember, VillageMember, GRID_ROLES,
};

type MemberRow = (Role, i64, String, Option<String>, Option<Background>);

/// One group's roster: one query.
pub fn roster(conn: &mut DbConn, group: &RegionRow) -> AppResult<Roster> {
    let rows: Vec<MemberRow> = role_assignments::table
        .inner_join(users::table)
        .filter(role_assignments::region_id.eq(group.id))
        .filter(role_assignments::role.eq_any(GRID_ROLES))
        .filter(users::disabled.eq(false))
        .order(role_assignments::id.asc())
        .select((
            role_assignments::role,
            users::id,
            users::display_name,
            users::phone,
            role_assignments::background,
        ))
        .load(conn)?;
    let mut roster = Roster {
        group: group.to_ref(),
        leader: None,
        inspectors: Vec::new(),
        handlers: Vec::new(),
        coordinators: Vec::new(),
        complete: false,
        missing: Vec::new(),
    };
    let mut held = HashSet::new();
    for (role, user_id, display_name, phone, background) in rows {
        held.insert(role);
        let m = RosterMember {
            user_id,
            display_name,
            phone,
            background,
        };
        match role {
            Role::GridLeader => roster.leader = Some(m),
            Role::GridInspector => roster.inspectors.push(m),
            Role::GridHandler => roster.handlers.push(m),
            _ => roster.coordinators.push(m),
        }
    }
    roster.missing = missing(&held);
    roster.complete = roster.missing.is_empty();
    Ok(roster)
}

/// Compliance over the subtree of `root`: two queries (the subtree's regions, and the distinct
/// grid roles held per group by enabled accounts), then counted in memory.
pub fn compliance(conn: &mut DbConn, root: &RegionRow) -> AppResult<RosterCompliance> {
    let tree = region_store::subtree(conn, &root.path)?;
    let held_rows: Vec<(Option<i64>, Role)> = role_assignments::table
        .inner_join(users::table)
        .inner_join(regions::table.on(role_assignments::region_id.eq(regions::id.nullable())))
        .filter(regions::path.ge(&root.path))
        .filter(regions::path.lt(subtree_end(&root.path)))
        .filter(regions::level.eq(RegionLevel::Group))
        .filter(role_assignments::role.eq_any(GRID_ROLES))
        .filter(users::disabled.eq(false))
        .select((role_assignments::region_id, role_assignments::role))
        .distinct()
        .load(conn)?;
    let mut held: HashMap<i64, HashSet<Role>> = HashMap::new();
    for (group, role) in held_rows {
        if let Some(g) = group {
            held.entry(g).or_default().insert(role);
        }
    }

    let by_id: HashMap<i64, &RegionRow> = tree.iter().map(|r| (r.id, r)).collect();
    let depth = root.ancestor_ids().len() + 1;
    let mut children: Vec<&RegionRow> = tree
        .iter()
        .filter(|r| r.parent_id == Some(root.id))
        .collect();
    children.sort_by(|a, b| a.code.cmp(&b.code));
    let mut per_child: HashMap<i64, (i64, i64)> = HashMap::new();
    let (mut total, mut complete) = (0i64, 0i64);
    let mut incomplete = Vec::new();
    for g in tree.iter().filter(|r| r.level == RegionLevel::Group) {
        let lacks = missing(held.get(&g.id).unwrap_or(&HashSet::new()));
        let ok = lacks.is_empty();
        total += 1;
        complete += i64::from(ok);
        // The path's segment just below the root names the child the group lies under.
        let child = g
            .path
            .split('/')
            .filter(|s| !s.is_empty())
            .nth(depth)
            .and_then(|s| s.parse::<i64>().ok());
        if let Some(c) = child {
            let e = per_child.entry(c).or_default();
            e.0 += 1;
            e.1 += i64::from(ok);
        }
        if !ok {
            incomplete.push(IncompleteGroup {
                group: g.to_ref(),
                village: g.parent_id.and_then(|p| by_id.get(&p)).map(|v| v.to_ref()),
                missing: lacks,
            });
        }
    }
    incomplete.sort_by(|a, b| a.group.code.cmp(&b.group.code));
    let mut supervisor_vacant: Vec<_> = tree
        .iter()
        .filter(|r| !r.level.supervisor_roles().is_empty() && r.supervisor_user_id.is_none())
        .map(|r| r.to_ref())
        .collect();
    supervisor_vacant.sort_by(|a, b| a.code.cmp(&b.code));
    let tally = |r: &RegionRow, (t, c): (i64, i64)| ComplianceTally {
        region: r.to_ref(),
        groups_total: t,
        groups_complete: c,
        rate: rate(c, t),
    };
    Ok(RosterCompliance {
        total: tally(root, (total, complete)),
        children: children
            .iter()
            .map(|c| tally(c, per_child.get(&c.id).copied().unwrap_or((0, 0))))
            .collect(),
        incomplete,
        supervisor_vacant,
    })
}

/// The committee of a township: officials, the police station, member bodies, village cadres,
/// for a caller who sees `viewer`.
pub fn committee(conn: &mut DbConn, township: &RegionRow, viewer: &Scope) -> AppResult<Committee> {
    let officials: Vec<(i64, String, Option<String>, Option<String>)> = role_assignments::table
        .inner_join(users::table)
        .filter(role_assignments::region_id.eq(township.id))
        .filter(role_assignments::role.eq(Role::TownshipOfficial))
        .filter(users::disabled.eq(false))
        .order(role_assignments::id.asc())
        .select((
            users::id,
            users::display_name,
            users::phone,
            role_assignments::title,
        ))
        .load(conn)?;
    let station_ids: Vec<i64> = organization_jurisdictions::table
        .filter(organization_jurisdictions::region_id.eq(township.id))
        .filter(organization_jurisdictions::kind.eq(OrgKind::PoliceStation))
        .select(organization_jurisdictions::organization_id)
        .load(conn)?;
    let member_kinds = [
        OrgKind::GovernanceOffice,
        OrgKind::MarketSupervision,
        OrgKind::PatrolTeam,
        OrgKind::TownshipFireTeam,
    ];
    let member_rows = organizations::table
        .filter(organizations::region_id.eq(township.id))
        .filter(organizations::kind.eq_any(member_kinds))
        .or_filter(organizations::id.eq_any(&station_ids))
        .order(organizations::id.asc())
        .select(crate::organizations::model::OrgRow::as_select())
        .load(conn)?;
    let mut police_station = None;
    let mut members = Vec::new();
    for org in org_store::to_api(conn, &member_rows, viewer)? {
        if station_ids.contains(&org.id) {
            police_station = Some(org);
        } else {
            members.push(org);
        }
    }
    let villages: Vec<RegionRow> = regions::table
        .filter(regions::parent_id.eq(township.id))
        .select(RegionRow::as_select())
        .load(conn)?;
    let village_ids: Vec<i64> = villages.iter().map(|v| v.id).collect();
    let cadres: Vec<(Option<i64>, i64, String, Option<String>)> = role_assignments::table
        .inner_join(users::table)
        .filter(role_assignments::region_id.eq_any(&village_ids))
        .filter(role_assignments::role.eq(Role::VillageCadre))
        .filter(users::disabled.eq(false))
        .order(role_assignments::id.asc())
        .select((
            role_assignments::region_id,
            users::id,
            users::display_name,
            users::phone,
        ))
        .load(conn)?;
    let by_id: HashMap<i64, &RegionRow> = villages.iter().map(|v| (v.id, v)).collect();
    let mut village_members: Vec<VillageMember> = cadres
        .into_iter()
        .filter_map(|(v, user_id, display_name, phone)| {
            let village = by_id.get(&v?)?.to_ref();
            Some(VillageMember {
                village,
                user_id,
                display_name,
                phone,
            })
        })
        .collect();
    village_members.sort_by(|a, b| a.village.code.cmp(&b.village.code));
    Ok(Committee {
        township: township.to_ref(),
        officials: officials
            .into_iter()
            .map(|(user_id, display_name, phone, title)| CommitteeOfficial {
                user_id,
                display_name,
                phone,
                title,
            })
            .collect(),
        police_station,
        members,
        village_members,
    })
}
