//! The one place that decides who may do what to the grid and the accounts. Handlers ask
//! `authorize` and never check roles themselves.
//!
//! The answer distinguishes two refusals (SPEC §4): a role that may never do a thing gets 403;
//! a role that may do it, but not there, gets 404, because outside a user's scope a resource
//! does not exist for them.

use crate::auth::principal::Principal;
use crate::auth::roles::Role;
use crate::auth::scope::Scope;
use crate::error::{AppError, AppResult};

/// Things a caller may be allowed to do, each over a target region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// Read regions, organisations and the grid structure.
    ReadGrid,
    /// Create and change regions and organisations.
    ManageGrid,
    /// Read, create and change accounts and their roles.
    ManageAccounts,
    /// Register, change and remove premises (一格多点) in groups: administrators and the staff
    /// who work the grid — township officials, village cadres and police, the group's 一长三员.
    /// County officials, police and fire officers oversee and enforce; they read premises only.
    ManagePremises,
    /// Report hazards and add photos to cases: the operational roles, not administrators.
    WorkCases,
    /// Draw a sample of closed cases for online spot checks (网上抽查核实): fire officers.
    DrawSpotChecks,
    /// Take down a report from the public received by telephone or in person (hotline 96119 /
    /// 12345, walk-in): village and township staff.
    TakeIntake,
}

/// Whether a role grants a capability at all (somewhere).
pub fn role_may(role: Role, cap: Capability) -> bool {
    match cap {
        Capability::ReadGrid => true,
        Capability::ManageGrid | Capability::ManageAccounts => role == Role::Admin,
        Capability::ManagePremises => matches!(
            role,
            Role::Admin
                | Role::TownshipOfficial
                | Role::VillageCadre
                | Role::VillagePolice
                | Role::GridLeader
                | Role::GridInspector
                | Role::GridHandler
                | Role::GridCoordinator
        ),
        Capability::WorkCases => role != Role::Admin,
        Capability::DrawSpotChecks => role == Role::FireOfficer,
        Capability::TakeIntake => matches!(
            role,
            Role::VillageCadre | Role::VillagePolice | Role::TownshipOfficial
        ),
    }
}

/// Where the action applies: inside a region (its path), or at the top, above every region
/// (root regions, global accounts), which only unbound administrators reach.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    Region(&'a str),
    Top,
}

/// 403 unless some role of the caller grants `cap` somewhere (for lists, which are then
/// filtered by scope).
pub fn require(p: &Principal, cap: Capability) -> AppResult<()> {
    if p.assignments.iter().any(|a| role_may(a.role, cap)) {
        Ok(())
    } else {
        Err(AppError::forbidden("your roles do not allow this"))
    }
}

/// The scope in which the caller holds `cap`.
pub fn scope_for(p: &Principal, cap: Capability) -> Scope {
    p.assignments
        .iter()
        .filter(|a| role_may(a.role, cap))
        .fold(Scope::empty(), |acc, a| acc.union(a.scope.clone()))
}

pub fn authorize(p: &Principal, cap: Capability, target: Target<'_>) -> AppResult<()> {
    let mut granting = p
        .assignments
        .iter()
        .filter(|a| role_may(a.role, cap))
        .peekable();
    if granting.peek().is_none() {
        return Err(AppError::forbidden("your roles do not allow this"));
    }
    let covered = granting.any(|a| match target {
        Target::Region(path) => a.scope.contains(path),
        Target::Top => a.scope.is_global(),
    });
    if covered {
        Ok(())
    } else {
        Err(AppError::not_found())
    }
}

/// 403 unless everything `reach` covers lies inside the scope in which the caller holds `cap`:
/// for things the caller can see (so not a 404) that also reach where the caller cannot, such as
/// an organisation whose jurisdiction spans two counties.
pub fn authorize_reach(p: &Principal, cap: Capability, reach: &Scope) -> AppResult<()> {
    require(p, cap)?;
    if scope_for(p, cap).covers(reach) {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "it reaches beyond the regions you administer",
        ))
    }
}

/// The one rule for managing an account (edit, disable, reset its password, grant or revoke its
/// roles): its home must be inside the administrator's scope (404 otherwise: the account does
/// not exist for them), and so must everything it reaches through its roles (403 otherwise),
/// an organisation's role counting with the organisation's whole jurisdiction. A global
/// account reaches everything, so only a global administrator manages it. Without this an
/// administrator of one county could take over an account that also works in another (or a
/// global administrator homed in their county) and act there as it.
pub fn manage_account(p: &Principal, home: Target<'_>, reach: &Scope) -> AppResult<()> {
    authorize(p, Capability::ManageAccounts, home)?;
    authorize_reach(p, Capability::ManageAccounts, reach)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::principal::Assignment;
    use crate::error::ErrorCode;

    const COUNTY_A: &str = "/1/2/";
    const TOWNSHIP_A: &str = "/1/2/3/";
    const GROUP_A: &str = "/1/2/3/4/5/";
    const COUNTY_B: &str = "/1/20/";

    fn principal(role: Role, scope: Scope) -> Principal {
        Principal {
            user_id: 1,
            username: "u".into(),
            session_id: "s".into(),
            assignments: vec![Assignment {
                id: 1,
                role,
                region: None,
                region_path: None,
                organization: None,
                title: None,
                background: None,
                scope: scope.clone(),
            }],
            scope,
        }
    }

    fn outcome(r: AppResult<()>) -> &'static str {
        match r {
            Ok(()) => "ok",
            Err(e) if e.code == ErrorCode::Forbidden => "403",
            Err(e) if e.code == ErrorCode::NotFound => "404",
            Err(_) => "other",
        }
    }

    /// Every role, bound to county A (officers: a jurisdiction inside it), against every
    /// capability and target.
    #[test]
    fn policy_matrix() {
        use Capability::*;
        for &role in Role::ALL {
            let p = principal(role, Scope::from_paths(vec![COUNTY_A.into()]));
            let admin = role == Role::Admin;
            let expect_manage = |inside: bool| {
                if !admin {
                    "403"
                } else if inside {
                    "ok"
                } else {
                    "404"
                }
            };
            let cases: [(Capability, Target, &str); 9] = [
                (ReadGrid, Target::Region(GROUP_A), "ok"),
                (ReadGrid, Target::Region(COUNTY_A), "ok"),
                (ReadGrid, Target::Region(COUNTY_B), "404"),
                (ManageGrid, Target::Region(TOWNSHIP_A), expect_manage(true)),
                (ManageGrid, Target::Region(COUNTY_B), expect_manage(false)),
                (ManageGrid, Target::Top, expect_manage(false)),
                (ManageAccounts, Target::Region(GROUP_A), expect_manage(true)),
                (
                    ManageAccounts,
                    Target::Region(COUNTY_B),
                    expect_manage(false),
                ),
                (ManageAccounts, Target::Top, expect_manage(false)),
            ];
            for (cap, target, expected) in cases {
                assert_eq!(
                    outcome(authorize(&p, cap, target)),
                    expected,
                    "{role} {cap:?} {target:?}"
                );
            }
        }
    }

    /// Case work and spot checks: who may at all (403), and only inside their scope (404).
    #[test]
    fn case_work_matrix() {
        use Capability::{DrawSpotChecks, WorkCases};
        for &role in Role::ALL {
            let p = principal(role, Scope::from_paths(vec![COUNTY_A.into()]));
            let in_out = |may: bool| if may { ("ok", "404") } else { ("403", "403") };
            for (cap, may) in [
                (WorkCases, role != Role::Admin),
                (DrawSpotChecks, role == Role::FireOfficer),
            ] {
                let (inside, outside) = in_out(may);
                assert_eq!(
                    outcome(authorize(&p, cap, Target::Region(GROUP_A))),
                    inside,
                    "{role} {cap:?}"
                );
                assert_eq!(
                    outcome(authorize(&p, cap, Target::Region(COUNTY_B))),
                    outside,
                    "{role} {cap:?}"
                );
            }
        }
    }

    /// Premises: who may write at all (403 otherwise), and only inside their own subtree (404).
    #[test]
    fn premises_matrix() {
        use Capability::ManagePremises;
        for &role in Role::ALL {
            let writer = !matches!(
                role,
                Role::CountyOfficial | Role::PoliceOfficer | Role::FireOfficer
            );
            // Bound to the group (grid roles), or a region above it (everyone else).
            let bound = if role.is_grid_member() {
                GROUP_A
            } else {
                TOWNSHIP_A
            };
            let p = principal(role, Scope::from_paths(vec![bound.into()]));
            let inside = outcome(authorize(&p, ManagePremises, Target::Region(GROUP_A)));
            let outside = outcome(authorize(&p, ManagePremises, Target::Region(COUNTY_B)));
            let sibling = outcome(authorize(&p, ManagePremises, Target::Region("/1/2/3/4/6/")));
            if writer {
                assert_eq!((inside, outside), ("ok", "404"), "{role}");
                let expect_sibling = if role.is_grid_member() { "404" } else { "ok" };
                assert_eq!(sibling, expect_sibling, "{role}: a sibling group");
            } else {
                assert_eq!((inside, outside, sibling), ("403", "403", "403"), "{role}");
            }
            assert_eq!(role_may(role, ManagePremises), writer, "{role}");
        }
    }

    #[test]
    fn a_global_admin_reaches_the_top_and_a_user_without_roles_nothing() {
        let p = principal(Role::Admin, Scope::Global);
        assert_eq!(
            outcome(authorize(&p, Capability::ManageGrid, Target::Top)),
            "ok"
        );
        assert_eq!(
            outcome(authorize(
                &p,
                Capability::ManageAccounts,
                Target::Region(COUNTY_B)
            )),
            "ok"
        );
        let mut nobody = principal(Role::GridLeader, Scope::empty());
        nobody.assignments.clear();
        assert_eq!(
            outcome(authorize(
                &nobody,
                Capability::ReadGrid,
                Target::Region(GROUP_A)
            )),
            "403"
        );
    }

    /// An account homed in county A: managed by A's administrator only while all it reaches
    /// lies in A; a global account only by a global administrator.
    #[test]
    fn managing_an_account_needs_its_whole_reach() {
        let admin_a = principal(Role::Admin, Scope::from_paths(vec![COUNTY_A.into()]));
        let global = principal(Role::Admin, Scope::Global);
        let home = Target::Region(TOWNSHIP_A);
        let inside = Scope::from_paths(vec![GROUP_A.into(), TOWNSHIP_A.into()]);
        let straddling = Scope::from_paths(vec![TOWNSHIP_A.into(), COUNTY_B.into()]);
        let cases = [
            (&admin_a, home, &inside, "ok"),
            (&admin_a, home, &straddling, "403"),
            (&admin_a, home, &Scope::Global, "403"),
            (&admin_a, Target::Region(COUNTY_B), &inside, "404"),
            (&admin_a, Target::Top, &Scope::Global, "404"),
            (&global, home, &Scope::Global, "ok"),
            (&global, Target::Top, &straddling, "ok"),
        ];
        for (p, home, reach, expected) in cases {
            assert_eq!(
                outcome(manage_account(p, home, reach)),
                expected,
                "{home:?} {reach:?}"
            );
        }
        let official = principal(
            Role::CountyOfficial,
            Scope::from_paths(vec![COUNTY_A.into()]),
        );
        assert_eq!(outcome(manage_account(&official, home, &inside)), "403");
    }

    #[test]
    fn only_the_admin_role_counts_for_management() {
        // A village admin who is also a county official manages only the village.
        let mut p = principal(Role::Admin, Scope::from_paths(vec![TOWNSHIP_A.into()]));
        p.assignments.push(Assignment {
            role: Role::CountyOfficial,
            scope: Scope::from_paths(vec![COUNTY_A.into()]),
            ..p.assignments[0].clone()
        });
        assert_eq!(
            outcome(authorize(
                &p,
                Capability::ManageAccounts,
                Target::Region(GROUP_A)
            )),
            "ok"
        );
        assert_eq!(
            outcome(authorize(
                &p,
                Capability::ManageAccounts,
                Target::Region(COUNTY_A)
            )),
            "404"
        );
        assert_eq!(
            outcome(authorize(
                &p,
                Capability::ReadGrid,
                Target::Region(COUNTY_A)
            )),
            "ok"
        );
    }
}
