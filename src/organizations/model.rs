use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::organizations;
use crate::regions::model::RegionRef;
pub use crate::vocab::OrgKind;
use crate::vocab::RegionLevel;

impl OrgKind {
    /// The levels of region an organisation of this kind may sit in.
    pub fn home_levels(self) -> &'static [RegionLevel] {
        use RegionLevel as L;
        match self {
            OrgKind::PoliceStation => &[L::County, L::Township],
            OrgKind::FireDepartment => &[L::Province, L::Prefecture, L::County],
            OrgKind::MicroFireStation => &[L::Township, L::Village, L::Group],
            OrgKind::GovernanceOffice
            | OrgKind::MarketSupervision
            | OrgKind::PatrolTeam
            | OrgKind::TownshipFireTeam => &[L::Township],
        }
    }

    /// The level of the regions making up its jurisdiction, if it has one.
    pub fn jurisdiction_level(self) -> Option<RegionLevel> {
        match self {
            OrgKind::PoliceStation => Some(RegionLevel::Township),
            OrgKind::FireDepartment => Some(RegionLevel::County),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = organizations)]
pub struct OrgRow {
    pub id: i64,
    pub kind: OrgKind,
    pub name: String,
    pub region_id: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Organization {
    pub id: i64,
    pub kind: OrgKind,
    pub name: String,
    /// The region it sits in.
    pub region: RegionRef,
    /// Townships (police station) or counties (fire department) it answers for, inside the
    /// caller's scope.
    pub jurisdiction: Vec<RegionRef>,
    /// Ids of the regions it also answers for outside the caller's scope (names withheld).
    pub jurisdiction_outside_scope: Vec<i64>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrganization {
    pub kind: OrgKind,
    /// e.g. 李家山派出所
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    /// The region it sits in.
    pub region_id: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JurisdictionUpdate {
    /// At most 500.
    #[schema(max_items = 500)]
    pub region_ids: Vec<i64>,
}
