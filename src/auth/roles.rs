//! Roles (SPEC §4) and what each must be bound to.

pub use crate::vocab::{Background, Role};
use crate::vocab::{OrgKind, RegionLevel};

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
