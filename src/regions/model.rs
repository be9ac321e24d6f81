use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::regions;
pub use crate::vocab::RegionLevel;
use crate::vocab::Role;

impl RegionLevel {
    pub fn depth(self) -> usize {
        RegionLevel::ALL
            .iter()
            .position(|l| *l == self)
            .unwrap_or(0)
    }

    /// The level a child of this level has; `None` below a group.
    pub fn child(self) -> Option<RegionLevel> {
        RegionLevel::ALL.get(self.depth() + 1).copied()
    }

    /// Levels a deployment's root may have (SPEC §2).
    pub fn may_be_root(self) -> bool {
        matches!(
            self,
            RegionLevel::Province | RegionLevel::Prefecture | RegionLevel::County
        )
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = regions)]
pub struct RegionRow {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub level: RegionLevel,
    pub name: String,
    pub code: String,
    pub path: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub supervisor_user_id: Option<i64>,
}

/// A region as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Region {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub level: RegionLevel,
    pub name: String,
    pub code: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// One step of a breadcrumb (湟中区 › 李家山镇 › …).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RegionRef {
    pub id: i64,
    pub level: RegionLevel,
    pub name: String,
    pub code: String,
}

/// A person as other resources show them: enough to call them, never their account details.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonRef {
    /// The user id.
    pub id: i64,
    pub display_name: String,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RegionDetail {
    #[serde(flatten)]
    pub region: Region,
    /// From the root down to the parent.
    pub ancestors: Vec<RegionRef>,
    /// The responsible supervisor (分片包干) of a township, village or group, if one is set.
    pub supervisor: Option<PersonRef>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRegion {
    /// Omitted only for a deployment's root (global administrators only).
    pub parent_id: Option<i64>,
    pub level: RegionLevel,
    /// Chinese name, 1–64 characters, e.g. 李家山镇.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    /// Administrative code, unique, e.g. 630122101: 1–32 letters, digits or '-'.
    #[schema(
        pattern = r"^[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[A-Za-z0-9-]{1,32}[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub code: String,
}

/// Rename a region or change its code. Level and parent never change: the subtree's paths
/// (and every scope built on them) stay valid.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegionPatch {
    /// Chinese name, 1–64 characters.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: Option<String>,
    /// Administrative code, unique: 1–32 letters, digits or '-'.
    #[schema(
        pattern = r"^[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[A-Za-z0-9-]{1,32}[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub code: Option<String>,
}

/// Set (or with `null` clear) the responsible supervisor (分片包干) of a township, village or
/// group. The supervisor must hold a role at the tier above, bound to the parent region: a
/// county official or administrator of the county for a township, a township official for a
/// village, a village cadre or village police for a group.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupervisorUpdate {
    pub user_id: Option<i64>,
}

impl RegionLevel {
    /// The roles that may supervise a grid of this level (held on its parent region); empty for
    /// levels that have no supervisor.
    pub fn supervisor_roles(self) -> &'static [Role] {
        match self {
            RegionLevel::Township => &[Role::CountyOfficial, Role::Admin],
            RegionLevel::Village => &[Role::TownshipOfficial],
            RegionLevel::Group => &[Role::VillageCadre, Role::VillagePolice],
            _ => &[],
        }
    }
}

impl RegionRow {
    pub fn to_api(&self) -> Region {
        Region {
            id: self.id,
            parent_id: self.parent_id,
            level: self.level,
            name: self.name.clone(),
            code: self.code.clone(),
            created_at: self.created_at.and_utc(),
            updated_at: self.updated_at.and_utc(),
        }
    }

    pub fn to_ref(&self) -> RegionRef {
        RegionRef {
            id: self.id,
            level: self.level,
            name: self.name.clone(),
            code: self.code.clone(),
        }
    }

    /// Ids of the ancestors, root first, read off the path.
    pub fn ancestor_ids(&self) -> Vec<i64> {
        self.path
            .split('/')
            .filter_map(|s| s.parse::<i64>().ok())
            .filter(|id| *id != self.id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_descend_one_at_a_time() {
        assert_eq!(RegionLevel::County.child(), Some(RegionLevel::Township));
        assert_eq!(RegionLevel::Village.child(), Some(RegionLevel::Group));
        assert_eq!(RegionLevel::Group.child(), None);
        assert!(RegionLevel::County.may_be_root());
        assert!(!RegionLevel::Township.may_be_root());
    }

    #[test]
    fn supervisors_come_from_the_tier_above() {
        assert_eq!(
            RegionLevel::Township.supervisor_roles(),
            [Role::CountyOfficial, Role::Admin]
        );
        assert_eq!(
            RegionLevel::Village.supervisor_roles(),
            [Role::TownshipOfficial]
        );
        assert_eq!(
            RegionLevel::Group.supervisor_roles(),
            [Role::VillageCadre, Role::VillagePolice]
        );
        assert!(RegionLevel::County.supervisor_roles().is_empty());
    }
}
