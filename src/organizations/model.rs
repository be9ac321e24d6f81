use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::organizations;
use crate::regions::model::{RegionLevel, RegionRef};
use crate::text_enum;

text_enum!(
    /// Kinds of organisation (SPEC §2).
    pub OrgKind {
        /// 公安派出所: jurisdiction over one or more townships.
        PoliceStation => "police_station",
        /// 消防部门: jurisdiction over one or more counties.
        FireDepartment => "fire_department",
        /// 微型消防站: attached to a township, village or group.
        MicroFireStation => "micro_fire_station",
        /// 综治办: sits on the township fire-safety committee.
        GovernanceOffice => "governance_office",
        /// 工商所 (market supervision): sits on the township committee.
        MarketSupervision => "market_supervision",
        /// 治安巡防队: sits on the township committee.
        PatrolTeam => "patrol_team",
        /// 乡镇消防队: sits on the township committee.
        TownshipFireTeam => "township_fire_team",
    }
);

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
    pub kind: String,
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrganization {
    pub kind: OrgKind,
    /// e.g. 李家山派出所
    pub name: String,
    /// The region it sits in.
    pub region_id: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JurisdictionUpdate {
    pub region_ids: Vec<i64>,
}
