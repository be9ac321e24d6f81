use std::collections::HashSet;

use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::roles::{Background, Role};
use crate::organizations::model::Organization;
use crate::regions::model::RegionRef;

/// The four roles of the small grid, in roster order.
pub const GRID_ROLES: [Role; 4] = [
    Role::GridLeader,
    Role::GridInspector,
    Role::GridHandler,
    Role::GridCoordinator,
];

/// One person on a group's roster.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RosterMember {
    pub user_id: i64,
    pub display_name: String,
    pub phone: Option<String>,
    /// Where the person comes from (治安巡防员, 物业管理人员, 楼院长 …), if recorded.
    pub background: Option<Background>,
}

/// A group's 一长三员. Disabled accounts do not count.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Roster {
    pub group: RegionRef,
    /// 网格长: exactly one when complete.
    pub leader: Option<RosterMember>,
    /// 网格巡查员
    pub inspectors: Vec<RosterMember>,
    /// 网格处置员
    pub handlers: Vec<RosterMember>,
    /// 网格协管员
    pub coordinators: Vec<RosterMember>,
    /// One leader and at least one of each officer (达标).
    pub complete: bool,
    /// The roles nobody holds yet.
    pub missing: Vec<Role>,
}

/// Groups complete out of total in one region's subtree.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ComplianceTally {
    pub region: RegionRef,
    pub groups_total: i64,
    pub groups_complete: i64,
    /// complete / total, rounded to 4 places; null when the subtree has no groups.
    pub rate: Option<f64>,
}

/// A group whose roster lacks someone.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IncompleteGroup {
    pub group: RegionRef,
    /// Its village, when inside the subtree asked about.
    pub village: Option<RegionRef>,
    pub missing: Vec<Role>,
}

/// Roster compliance for a subtree: the whole, each child region, and what is missing where.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RosterCompliance {
    #[serde(flatten)]
    pub total: ComplianceTally,
    /// One tally per child region, by code.
    pub children: Vec<ComplianceTally>,
    /// Every incomplete group of the subtree, by code.
    pub incomplete: Vec<IncompleteGroup>,
    /// Townships, villages and groups of the subtree without a responsible supervisor (分片包干),
    /// by code: never named, or vacated when theirs lost the role the post rests on.
    pub supervisor_vacant: Vec<RegionRef>,
}

/// A township official on the committee.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CommitteeOfficial {
    pub user_id: i64,
    pub display_name: String,
    pub phone: Option<String>,
    /// Committee title, e.g. 镇长（主任）, 分管副镇长.
    pub title: Option<String>,
}

/// A village head sitting on the committee (村(社区)负责人): the village cadres.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VillageMember {
    pub village: RegionRef,
    pub user_id: i64,
    pub display_name: String,
    pub phone: Option<String>,
}

/// The township fire-safety committee (乡镇消防安全委员会, seed §(二)).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Committee {
    pub township: RegionRef,
    /// Township officials with their committee titles.
    pub officials: Vec<CommitteeOfficial>,
    /// The police station (公安派出所) whose jurisdiction includes the township, if any.
    pub police_station: Option<Organization>,
    /// Member bodies sitting in the township: 综治办, 工商所, 治安巡防队, 乡镇消防队.
    pub members: Vec<Organization>,
    /// Village cadres of the township's villages.
    pub village_members: Vec<VillageMember>,
}

/// The roles a group still lacks, given the roles its (enabled) members hold.
pub fn missing(held: &HashSet<Role>) -> Vec<Role> {
    GRID_ROLES
        .iter()
        .copied()
        .filter(|r| !held.contains(r))
        .collect()
}

pub fn rate(complete: i64, total: i64) -> Option<f64> {
    (total > 0).then(|| (complete as f64 / total as f64 * 10_000.0).round() / 10_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_roles_and_rates() {
        let all: HashSet<Role> = GRID_ROLES.into_iter().collect();
        assert!(missing(&all).is_empty());
        let some: HashSet<Role> = [Role::GridInspector, Role::GridHandler]
            .into_iter()
            .collect();
        assert_eq!(missing(&some), [Role::GridLeader, Role::GridCoordinator]);
        assert_eq!(rate(0, 0), None);
        assert_eq!(rate(2, 3), Some(0.6667));
        assert_eq!(rate(3, 3), Some(1.0));
    }
}
