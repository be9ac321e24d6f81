//! Which role assignments are well-formed (pure; the scope check is the policy's).

use crate::auth::roles::{Background, Binding, Role};
use crate::error::{AppError, AppResult};
use crate::organizations::model::OrgKind;
use crate::regions::model::RegionLevel;

/// What a grant names, after looking it up.
#[derive(Debug, Clone, Copy)]
pub enum Bound {
    Region(RegionLevel),
    Organization(OrgKind),
    Nothing,
}

/// Backgrounds fitting each small-grid role (SPEC §3, seed §(三)); `other` fits every one.
pub fn backgrounds_for(role: Role) -> &'static [Background] {
    use Background as B;
    match role {
        Role::GridLeader => &[
            B::PatrolMember,
            B::ForestRanger,
            B::GrasslandKeeper,
            B::Other,
        ],
        Role::GridInspector | Role::GridHandler => &[
            B::PropertyManager,
            B::SecurityGuard,
            B::MicroFireStationMember,
            B::Other,
        ],
        Role::GridCoordinator => &[B::BuildingHead, B::FireVolunteer, B::UnitManager, B::Other],
        _ => &[],
    }
}

pub fn check(
    role: Role,
    bound: Bound,
    title: Option<&str>,
    background: Option<Background>,
) -> AppResult<()> {
    match (role.binding(), bound) {
        (Binding::Region(want), Bound::Region(got)) if want == got => {}
        (Binding::Region(want), Bound::Region(got)) => {
            return Err(AppError::field(
                "region_id",
                format!("a {role} is bound to a {want}, not a {got}"),
            ));
        }
        (Binding::Region(want), _) => {
            return Err(AppError::field(
                "region_id",
                format!("a {role} is bound to a {want}"),
            ));
        }
        (Binding::Organization(want), Bound::Organization(got)) if want == got => {}
        (Binding::Organization(want), _) => {
            return Err(AppError::field(
                "organization_id",
                format!("a {role} is bound to a {want}"),
            ));
        }
        (Binding::AnyRegion, Bound::Region(_) | Bound::Nothing) => {}
        (Binding::AnyRegion, Bound::Organization(_)) => {
            return Err(AppError::field(
                "organization_id",
                "an admin is bound to a region",
            ));
        }
    }
    if title.is_some() && role != Role::TownshipOfficial {
        return Err(AppError::field(
            "title",
            "only township officials carry a committee title",
        ));
    }
    if let Some(b) = background {
        if !backgrounds_for(role).contains(&b) {
            return Err(AppError::field(
                "background",
                format!("{b} is not a background for a {role}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use RegionLevel as L;

    #[test]
    fn every_role_against_every_binding() {
        let bindings = [
            Bound::Nothing,
            Bound::Region(L::Province),
            Bound::Region(L::County),
            Bound::Region(L::Township),
            Bound::Region(L::Village),
            Bound::Region(L::Group),
            Bound::Organization(OrgKind::PoliceStation),
            Bound::Organization(OrgKind::FireDepartment),
            Bound::Organization(OrgKind::MicroFireStation),
        ];
        for &role in Role::ALL {
            for bound in bindings {
                let expected = match (role, bound) {
                    (Role::Admin, Bound::Nothing | Bound::Region(_)) => true,
                    (Role::CountyOfficial, Bound::Region(L::County)) => true,
                    (Role::TownshipOfficial, Bound::Region(L::Township)) => true,
                    (Role::VillageCadre | Role::VillagePolice, Bound::Region(L::Village)) => true,
                    (r, Bound::Region(L::Group)) if r.is_grid_member() => true,
                    (Role::PoliceOfficer, Bound::Organization(OrgKind::PoliceStation)) => true,
                    (Role::FireOfficer, Bound::Organization(OrgKind::FireDepartment)) => true,
                    _ => false,
                };
                assert_eq!(
                    check(role, bound, None, None).is_ok(),
                    expected,
                    "{role} on {bound:?}"
                );
            }
        }
    }

    #[test]
    fn titles_and_backgrounds() {
        assert!(check(
            Role::TownshipOfficial,
            Bound::Region(L::Township),
            Some("副镇长"),
            None
        )
        .is_ok());
        assert!(check(
            Role::VillageCadre,
            Bound::Region(L::Village),
            Some("书记"),
            None
        )
        .is_err());
        let g = Bound::Region(L::Group);
        assert!(check(Role::GridLeader, g, None, Some(Background::ForestRanger)).is_ok());
        assert!(check(Role::GridLeader, g, None, Some(Background::SecurityGuard)).is_err());
        assert!(check(
            Role::GridCoordinator,
            g,
            None,
            Some(Background::FireVolunteer)
        )
        .is_ok());
        assert!(check(Role::GridHandler, g, None, Some(Background::Other)).is_ok());
        assert!(check(
            Role::VillageCadre,
            Bound::Region(L::Village),
            None,
            Some(Background::Other)
        )
        .is_err());
    }
}
