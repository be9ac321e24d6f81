//! The world most tests start from: the root administrator and the real tree of [`Tree`] —
//! 湟中区 › 李家山镇 › 李家山村 › 一组, and 大通县 › 桥头镇 next door — from which the
//! builders hang; and, for the hazard workflow, [`Staff`]: the two organisations and an account
//! for every role around 一组, plus an outsider in 大通县.

use std::cell::Cell;

use super::{
    root_token, tree, Account, CaseBuilder, Org, OrgBuilder, OrgKind, PremisesBuilder,
    RegionBuilder, Role, Severity, TestApp, Tree, UserBuilder,
};

pub struct World {
    /// The global administrator's token.
    pub root: String,
    pub t: Tree,
    /// Numbers the accounts the builders name themselves.
    serial: Cell<u32>,
}

impl World {
    pub async fn new(app: &TestApp) -> World {
        let root = root_token(app).await;
        let t = tree(app, &root).await;
        World {
            root,
            t,
            serial: Cell::new(0),
        }
    }

    pub(super) fn serial(&self) -> u32 {
        self.serial.set(self.serial.get() + 1);
        self.serial.get()
    }

    pub fn user(&self, role: Role) -> UserBuilder<'_> {
        UserBuilder::new(self, role)
    }

    pub fn region(&self, parent: i64, name: &str, code: &str) -> RegionBuilder<'_> {
        RegionBuilder::new(self, parent, name, code)
    }

    pub fn org(&self, kind: OrgKind, name: &str, region: i64) -> OrgBuilder<'_> {
        OrgBuilder::new(self, kind, name, region)
    }

    pub fn premises(&self, group: i64, name: &str) -> PremisesBuilder<'_> {
        PremisesBuilder::new(self, group, name)
    }

    /// Hires [`Staff`] for this world.
    pub async fn staff(&self, app: &TestApp) -> Staff {
        Staff::hire(self, app).await
    }
}

/// One account per role around 湟中区 › 李家山镇 › 李家山村 › 一组 (tokens, and the ids tests
/// need), and one township official in 大通县.
pub struct Staff {
    /// 一组, where cases are reported.
    pub group: i64,
    /// 李家山派出所, over 李家山镇.
    pub station: Org,
    /// 湟中区消防救援大队, over 湟中区.
    pub fire_dept: Org,
    /// The user id of the county official.
    pub county_official: i64,
    /// 湟中区's administrator.
    pub admin: String,
    /// 县级领导小组 (county official).
    pub county: String,
    /// 乡镇消防安全委员会 (township official).
    pub official: String,
    /// 驻村干部 (village cadre).
    pub cadre: String,
    /// 村警 (village police).
    pub village_police: String,
    /// 网格长 (grid leader).
    pub leader: String,
    /// 巡查员 (grid inspector).
    pub inspector: String,
    /// 处置员 (grid handler).
    pub handler: String,
    /// 协管员 (grid coordinator).
    pub coordinator: String,
    /// 派出所民警 (police officer).
    pub police: String,
    /// 消防部门 (fire officer).
    pub fire: String,
    /// A township official of 桥头镇 in 大通县.
    pub outsider: String,
}

impl Staff {
    async fn hire(w: &World, app: &TestApp) -> Staff {
        let t = &w.t;
        let station = w
            .org(OrgKind::PoliceStation, "李家山派出所", t.township)
            .answers_for(&[t.township])
            .build(app)
            .await;
        let fire_dept = w
            .org(OrgKind::FireDepartment, "湟中区消防救援大队", t.county)
            .answers_for(&[t.county])
            .build(app)
            .await;
        let hire = |role: Role, username: &'static str| w.user(role).named(username);
        let token = |a: Account| a.token;
        let county = hire(Role::CountyOfficial, "xianling").build(app).await;
        Staff {
            group: t.group,
            station,
            fire_dept,
            county_official: county.id,
            county: county.token,
            admin: token(hire(Role::Admin, "guanliyuan").build(app).await),
            official: token(
                hire(Role::TownshipOfficial, "zhenguanyuan")
                    .build(app)
                    .await,
            ),
            cadre: token(hire(Role::VillageCadre, "cungabu").build(app).await),
            village_police: token(hire(Role::VillagePolice, "cunjing").build(app).await),
            leader: token(hire(Role::GridLeader, "wanggezhang").build(app).await),
            inspector: token(hire(Role::GridInspector, "xunchayuan").build(app).await),
            handler: token(hire(Role::GridHandler, "chuzhiyuan").build(app).await),
            coordinator: token(hire(Role::GridCoordinator, "xieguanyuan").build(app).await),
            police: token(
                hire(Role::PoliceOfficer, "minjing")
                    .of(station)
                    .build(app)
                    .await,
            ),
            fire: token(
                hire(Role::FireOfficer, "xiaofang")
                    .of(fire_dept)
                    .build(app)
                    .await,
            ),
            outsider: token(
                hire(Role::TownshipOfficial, "datong")
                    .at(t.other_township)
                    .build(app)
                    .await,
            ),
        }
    }

    pub fn case(&self, severity: Severity) -> CaseBuilder<'_> {
        CaseBuilder::new(self, severity)
    }
}
