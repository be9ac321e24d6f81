//! Roles (SPEC §4) and what each must be bound to.

use crate::organizations::model::OrgKind;
use crate::regions::model::RegionLevel;
use crate::text_enum;

text_enum!(
    /// A role a user holds, bound to a region or an organisation.
    pub Role {
        /// 管理员: keeps the grid tree, accounts and rosters of a region (or everything, unbound).
        Admin => "admin",
        /// 县级领导小组: oversees a county.
        CountyOfficial => "county_official",
        /// 乡镇消防安全委员会成员: sets deadlines, hands overdue cases to the police.
        TownshipOfficial => "township_official",
        /// 驻村干部: village (medium grid) staff.
        VillageCadre => "village_cadre",
        /// 村警/辅警: village police.
        VillagePolice => "village_police",
        /// 网格长: the one leader of a group (small grid).
        GridLeader => "grid_leader",
        /// 巡查员: patrols the group daily.
        GridInspector => "grid_inspector",
        /// 处置员: handles hazards on site.
        GridHandler => "grid_handler",
        /// 协管员: coordinates with buildings and units.
        GridCoordinator => "grid_coordinator",
        /// 公安派出所消防民警: scope is the station's jurisdiction.
        PoliceOfficer => "police_officer",
        /// 消防部门: scope is the fire department's jurisdiction.
        FireOfficer => "fire_officer",
    }
);

text_enum!(
    /// A roster member's background (SPEC §3, seed §(三)).
    pub Background {
        PatrolMember => "patrol_member",
        ForestRanger => "forest_ranger",
        GrasslandKeeper => "grassland_keeper",
        PropertyManager => "property_manager",
        SecurityGuard => "security_guard",
        MicroFireStationMember => "micro_fire_station_member",
        BuildingHead => "building_head",
        FireVolunteer => "fire_volunteer",
        UnitManager => "unit_manager",
        Other => "other",
    }
);

/// What a role assignment must name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// A region of this level.
    Region(RegionLevel),
    /// An organisation of this kind.
    Organization(OrgKind),
    /// Any region, or none (global administrator).
    AnyRegion,
}

impl Role {
    pub fn binding(self) -> Binding {
        use RegionLevel as L;
        match self {
            Role::Admin => Binding::AnyRegion,
            Role::CountyOfficial => Binding::Region(L::County),
            Role::TownshipOfficial => Binding::Region(L::Township),
            Role::VillageCadre | Role::VillagePolice => Binding::Region(L::Village),
            Role::GridLeader | Role::GridInspector | Role::GridHandler | Role::GridCoordinator => {
                Binding::Region(L::Group)
            }
            Role::PoliceOfficer => Binding::Organization(OrgKind::PoliceStation),
            Role::FireOfficer => Binding::Organization(OrgKind::FireDepartment),
        }
    }

    /// The four small-grid roles of 一长三员.
    pub fn is_grid_member(self) -> bool {
        matches!(
            self,
            Role::GridLeader | Role::GridInspector | Role::GridHandler | Role::GridCoordinator
        )
    }
}
