//! Builders for test data, in the style of crates.io's `tests/builders`: each starts from a
//! [`World`] with what a test usually wants, takes the few settings a test cares about as
//! chained calls, and is consumed by `build(&app)`, which goes through the real HTTP API (so
//! every fixture passes the same rules as a user's request) and fails the test if that refuses.
//!
//! ```ignore
//! let inspector = w.user(Role::GridInspector).named("xunchayuan").build(&app).await;
//! let g2 = w.region(w.t.village, "二组", "630106101001002").build(&app).await;
//! let case = s.case(Severity::Major).at(Level::Township).build(&app).await;
//! ```

use serde_json::{json, Value};

use super::{create_org, create_region, id_of, user_with_role, Staff, TestApp, World};

// The vocabularies the builders speak, named in one place.
pub use firegrid::auth::roles::Role;
pub use firegrid::hazards::model::{Level, Severity};
pub use firegrid::organizations::model::OrgKind;
pub use firegrid::premises::model::PremisesCategory;
pub use firegrid::regions::model::RegionLevel;

/// A logged-in account.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: i64,
    pub token: String,
}

/// An account with one role, created by the world's root administrator. Unless told otherwise
/// it is bound to the world's region of the role's level (湟中区 for county roles and
/// administrators, 李家山镇, 李家山村, 一组 for the grid) and lives where it is bound (an
/// officer: where the organisation sits).
pub struct UserBuilder<'w> {
    world: &'w World,
    role: Role,
    username: Option<String>,
    region: Option<i64>,
    org: Option<Org>,
    home: Option<i64>,
}

impl<'w> UserBuilder<'w> {
    pub(super) fn new(world: &'w World, role: Role) -> Self {
        UserBuilder {
            world,
            role,
            username: None,
            region: None,
            org: None,
            home: None,
        }
    }

    /// The username (the display name is `用户<username>`); by default a fresh one.
    pub fn named(mut self, username: &str) -> Self {
        self.username = Some(username.to_string());
        self
    }

    /// Binds the role to this region instead of the default one.
    pub fn at(mut self, region: i64) -> Self {
        self.region = Some(region);
        self
    }

    /// Binds an officer's role to this organisation.
    pub fn of(mut self, org: Org) -> Self {
        self.org = Some(org);
        self
    }

    /// Where the account lives, when that is not where its role is bound.
    pub fn home(mut self, region: i64) -> Self {
        self.home = Some(region);
        self
    }

    #[track_caller]
    fn default_region(&self) -> i64 {
        let t = &self.world.t;
        match self.role {
            Role::Admin | Role::CountyOfficial => t.county,
            Role::TownshipOfficial => t.township,
            Role::VillageCadre | Role::VillagePolice => t.village,
            Role::GridLeader | Role::GridInspector | Role::GridHandler | Role::GridCoordinator => {
                t.group
            }
            Role::PoliceOfficer | Role::FireOfficer => {
                panic!("an officer is bound to an organisation: call .of(org)")
            }
        }
    }

    pub async fn build(self, app: &TestApp) -> Account {
        let (region, org) = match self.org {
            Some(org) => (None, Some(org)),
            None => (
                Some(self.region.unwrap_or_else(|| self.default_region())),
                None,
            ),
        };
        let home = self
            .home
            .or(region)
            .or(org.map(|o| o.region))
            .expect("a home region");
        let username = self
            .username
            .unwrap_or_else(|| format!("{}-{}", self.role.as_str(), self.world.serial()));
        let (id, token) = user_with_role(
            app,
            &self.world.root,
            &username,
            home,
            self.role.as_str(),
            region,
            org.map(|o| o.id),
        )
        .await;
        Account { id, token }
    }
}

/// Builds each account in turn; returns their tokens in the same order.
pub async fn tokens<'w>(
    app: &TestApp,
    users: impl IntoIterator<Item = UserBuilder<'w>>,
) -> Vec<String> {
    let mut tokens = Vec::new();
    for user in users {
        tokens.push(user.build(app).await.token);
    }
    tokens
}

/// A region under `parent`, one level below it, created by the root administrator.
pub struct RegionBuilder<'w> {
    world: &'w World,
    parent: i64,
    name: String,
    code: String,
}

impl<'w> RegionBuilder<'w> {
    pub(super) fn new(world: &'w World, parent: i64, name: &str, code: &str) -> Self {
        RegionBuilder {
            world,
            parent,
            name: name.to_string(),
            code: code.to_string(),
        }
    }

    pub async fn build(self, app: &TestApp) -> i64 {
        let root = &self.world.root;
        let r = app
            .get(&format!("/api/v1/regions/{}", self.parent), Some(root))
            .await;
        let parent: RegionLevel =
            serde_json::from_value(r.assert_status(200)["level"].clone()).expect("a region level");
        let level = parent.child().expect("a region below a group");
        create_region(
            app,
            root,
            Some(self.parent),
            level.as_str(),
            &self.name,
            &self.code,
        )
        .await
    }
}

/// An organisation and the region it sits in.
#[derive(Debug, Clone, Copy)]
pub struct Org {
    pub id: i64,
    pub region: i64,
}

/// An organisation sitting in a region, optionally answering for others (its jurisdiction).
pub struct OrgBuilder<'w> {
    world: &'w World,
    kind: OrgKind,
    name: String,
    region: i64,
    jurisdiction: Vec<i64>,
}

impl<'w> OrgBuilder<'w> {
    pub(super) fn new(world: &'w World, kind: OrgKind, name: &str, region: i64) -> Self {
        OrgBuilder {
            world,
            kind,
            name: name.to_string(),
            region,
            jurisdiction: Vec::new(),
        }
    }

    /// The regions it answers for (a police station's townships, a fire department's counties).
    pub fn answers_for(mut self, regions: &[i64]) -> Self {
        self.jurisdiction = regions.to_vec();
        self
    }

    pub async fn build(self, app: &TestApp) -> Org {
        let root = &self.world.root;
        let id = create_org(app, root, self.kind.as_str(), &self.name, self.region).await;
        if !self.jurisdiction.is_empty() {
            app.put(
                &format!("/api/v1/organizations/{id}/jurisdiction"),
                Some(root),
                json!({"region_ids": self.jurisdiction}),
            )
            .await
            .assert_status(200);
        }
        Org {
            id,
            region: self.region,
        }
    }
}

/// The body of a premises registration: a shop in `group` with a location, contact and signage.
pub fn premises_body(group: i64, name: &str) -> Value {
    json!({
        "group_id": group,
        "name": name,
        "category": "shop",
        "address": "湟中区李家山镇李家山村一组12号",
        "lat": 36.5012,
        "lng": 101.5678,
        "contact_name": "马福成",
        "contact_phone": "13897000001",
        "signage": true
    })
}

/// Premises registered in a group, by the root administrator unless `by` says who.
pub struct PremisesBuilder<'w> {
    world: &'w World,
    body: Value,
    by: Option<String>,
}

impl<'w> PremisesBuilder<'w> {
    pub(super) fn new(world: &'w World, group: i64, name: &str) -> Self {
        PremisesBuilder {
            world,
            body: premises_body(group, name),
            by: None,
        }
    }

    pub fn category(mut self, category: PremisesCategory) -> Self {
        self.body["category"] = json!(category);
        self
    }

    /// Registered by this account instead of the root administrator.
    pub fn by(mut self, token: &str) -> Self {
        self.by = Some(token.to_string());
        self
    }

    pub async fn build(self, app: &TestApp) -> i64 {
        let token = self.by.as_deref().unwrap_or(&self.world.root);
        let r = app.post("/api/v1/premises", Some(token), self.body).await;
        id_of(r.assert_status(201))
    }
}

/// The body of a hazard report from 一组's patrol: bad wiring in a villager's home.
pub fn report_body(group: i64, severity: Severity, title: &str) -> Value {
    json!({
        "group_id": group,
        "category": "electrical",
        "severity": severity,
        "title": title,
        "description": "村民家中私拉乱接电线，插排串接使用",
        "address": "李家山村一组12号",
        "lat": 36.5, "lng": 101.6,
        "source": "patrol",
        "found_at": "2026-11-27T08:30:00Z"
    })
}

/// A hazard case reported by 一组's inspector and then driven through the real actions to the
/// state asked for: escalated by the staff of each tier (the inspector, the village cadre) and
/// handed to the police by the township official; a deadline is set by the staff of the level
/// the case ends at.
pub struct CaseBuilder<'s> {
    staff: &'s Staff,
    severity: Severity,
    title: String,
    level: Level,
    group: Option<i64>,
    reporter: Option<String>,
    deadline: Option<String>,
}

/// A case as the last step of its building left it.
#[derive(Debug, Clone)]
pub struct Case {
    pub id: i64,
    pub json: Value,
}

impl<'s> CaseBuilder<'s> {
    pub(super) fn new(staff: &'s Staff, severity: Severity) -> Self {
        CaseBuilder {
            staff,
            severity,
            title: "私拉乱接电线".to_string(),
            level: Level::Group,
            group: None,
            reporter: None,
            deadline: None,
        }
    }

    pub fn titled(mut self, title: &str) -> Self {
        self.title = title.to_string();
        self
    }

    /// Escalated (and, at the police, transferred) until it sits at this level.
    pub fn at(mut self, level: Level) -> Self {
        self.level = level;
        self
    }

    /// Reported in another group by that group's inspector (and left at group level).
    pub fn reported_in(mut self, group: i64, inspector: &str) -> Self {
        self.group = Some(group);
        self.reporter = Some(inspector.to_string());
        self
    }

    /// With a deadline (RFC 3339), set at the level the case ends at.
    pub fn deadline(mut self, at: String) -> Self {
        self.deadline = Some(at);
        self
    }

    pub async fn build(self, app: &TestApp) -> Case {
        let s = self.staff;
        let reporter = self.reporter.as_deref().unwrap_or(&s.inspector);
        let body = report_body(self.group.unwrap_or(s.group), self.severity, &self.title);
        let r = app.post("/api/v1/hazards", Some(reporter), body).await;
        let mut json = r.assert_status(201).clone();
        let id = id_of(&json);
        let act = |token: &str, body: Value| {
            let path = format!("/api/v1/hazards/{id}/actions");
            let token = token.to_string();
            async move {
                let r = app.post(&path, Some(&token), body).await;
                r.assert_status(200).clone()
            }
        };
        let steps: [(Level, &str, Value); 3] = [
            (Level::Village, reporter, json!({"action": "escalate"})),
            (Level::Township, &s.cadre, json!({"action": "escalate"})),
            (
                Level::Police,
                &s.official,
                json!({"action": "transfer_to_police"}),
            ),
        ];
        for (reaches, token, body) in steps {
            if self.level.rank() < reaches.rank() {
                break;
            }
            json = act(token, body).await;
        }
        if let Some(deadline) = self.deadline {
            let token = match self.level {
                Level::Group => reporter,
                Level::Village => &s.cadre,
                Level::Township => &s.official,
                Level::Police => &s.police,
            };
            json = act(
                token,
                json!({"action": "set_deadline", "deadline": deadline}),
            )
            .await;
        }
        Case { id, json }
    }
}
