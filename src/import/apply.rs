//! Applying parsed rows inside one transaction. Every row is checked against what is already
//! stored and what earlier rows created; each problem becomes a line error, and any error
//! rolls the whole import back. Existing things are looked up in a few set queries up front,
//! so the cost is a handful of statements per row, whatever the size of the database.

use std::collections::{BTreeSet, HashMap, HashSet};

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::policy::{authorize, scope_for, Capability, Target};
use crate::auth::principal::Principal;
use crate::auth::roles::{Background, Binding, Role};
use crate::auth::scope::Scope;
use crate::db::schema::{
    organization_jurisdictions, organizations, premises, role_assignments, users,
};
use crate::db::{self, DbConn};
use crate::error::{AppError, AppResult, ErrorCode, FieldError};
use crate::import::parse::Row;
use crate::import::{failed, line_error};
use crate::organizations::model::OrgRow;
use crate::organizations::store as org_store;
use crate::premises::model::PremisesRow;
use crate::premises::store as premises_store;
use crate::regions::model::{RegionLevel, RegionRow};
use crate::regions::store::{self as region_store, Misplaced};
use crate::users::grants::{self, Bound};
use crate::users::model::UserRow;
use crate::users::store as user_store;

/// Who imports: the system (command line) or an administrator over HTTP, who may touch only
/// their own subtree; regions outside it are reported as unknown, as everywhere else.
#[derive(Clone, Copy)]
pub enum Actor<'a> {
    System,
    User(&'a Principal),
}

impl Actor<'_> {
    fn scope(&self) -> Scope {
        match self {
            Actor::System => Scope::Global,
            Actor::User(p) => scope_for(p, Capability::ManageGrid),
        }
    }

    fn may(&self, cap: Capability, target: Target<'_>) -> bool {
        match self {
            Actor::System => true,
            Actor::User(p) => authorize(p, cap, target).is_ok(),
        }
    }
}

/// What one kind of row did.
#[derive(Debug, Default, Clone, Copy, Serialize, ToSchema, PartialEq, Eq)]
pub struct Tally {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
}

/// The outcome of an import that was applied.
#[derive(Debug, Default, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct ImportReport {
    /// Data rows read (comments and blank lines excluded).
    pub rows: u64,
    pub regions: Tally,
    pub organizations: Tally,
    /// Accounts.
    pub people: Tally,
    /// Role assignments.
    pub roles: Tally,
    pub premises: Tally,
    pub supervisors: Tally,
}

impl ImportReport {
    /// True when the import changed nothing (a re-run of the same file).
    pub fn changed_nothing(&self) -> bool {
        [
            self.regions,
            self.organizations,
            self.people,
            self.roles,
            self.premises,
            self.supervisors,
        ]
        .iter()
        .all(|t| t.created == 0 && t.updated == 0)
    }
}

/// Raised to stop the run after an unexpected storage error (recorded as a line error).
struct Stop;

struct Run<'a> {
    actor: Actor<'a>,
    now: chrono::NaiveDateTime,
    unusable_hash: &'a str,
    /// Regions by code: found in the caller's scope, or created by this import.
    regions: HashMap<String, RegionRow>,
    /// Codes that exist outside the caller's scope.
    hidden: HashSet<String>,
    /// Region codes whose rows had errors, with the line.
    bad_codes: HashMap<String, u64>,
    orgs: HashMap<(i64, String), OrgRow>,
    /// Accounts by username: (user id, display name, phone, first line in the file or 0).
    people: HashMap<String, (i64, String, Option<String>, u64)>,
    errors: Vec<FieldError>,
    report: ImportReport,
}

/// Applies `rows`; call inside a transaction (`db::write_tx`). `unusable_hash` is the argon2
/// hash of a discarded random password, given to every new account.
pub fn apply(
    conn: &mut DbConn,
    actor: Actor<'_>,
    rows: &[Row],
    unusable_hash: &str,
) -> AppResult<ImportReport> {
    let mut run = Run {
        actor,
        now: db::now(),
        unusable_hash,
        regions: HashMap::new(),
        hidden: HashSet::new(),
        bad_codes: HashMap::new(),
        orgs: HashMap::new(),
        people: HashMap::new(),
        errors: Vec::new(),
        report: ImportReport {
            rows: rows.len() as u64,
            ..Default::default()
        },
    };
    let outcome = run.all(conn, rows);
    match outcome {
        Err(StepError::App(e)) => Err(e),
        Err(StepError::Stop(Stop)) | Ok(()) if !run.errors.is_empty() => Err(failed(run.errors)),
        Err(StepError::Stop(Stop)) => Err(AppError::internal("import stopped without an error")),
        Ok(()) => Ok(run.report),
    }
}

enum StepError {
    /// Unrecoverable (database unreachable, internal): passed on as is.
    App(AppError),
    Stop(Stop),
}

type Step = Result<(), StepError>;

impl From<AppError> for StepError {
    fn from(e: AppError) -> Self {
        StepError::App(e)
    }
}

impl From<diesel::result::Error> for StepError {
    fn from(e: diesel::result::Error) -> Self {
        StepError::App(e.into())
    }
}

impl Run<'_> {
    fn fail(&mut self, line: u64, column: &str, message: impl Into<String>) {
        self.errors.push(line_error(line, column, message));
    }

    /// A store call for one line: a refusal becomes that line's error and stops the run (on
    /// PostgreSQL a failed statement ends the transaction, so nothing after it could run).
    fn store<T>(&mut self, line: u64, column: &str, r: AppResult<T>) -> Result<T, StepError> {
        r.map_err(|e| match e.code {
            ErrorCode::Internal | ErrorCode::Unavailable => StepError::App(e),
            _ => {
                self.fail(line, column, e.detail);
                StepError::Stop(Stop)
            }
        })
    }

    fn unknown_region(&mut self, line: u64, column: &str, code: &str) {
        let msg = match self.bad_codes.get(code) {
            Some(l) => format!("region {code} is not imported: line {l} has errors"),
            None => format!("no region with code {code} in this file or in your area"),
        };
        self.fail(line, column, msg);
    }

    fn all(&mut self, conn: &mut DbConn, rows: &[Row]) -> Step {
        self.load_regions(conn, rows)?;
        self.regions_step(conn, rows)?;
        self.organizations_step(conn, rows)?;
        self.people_step(conn, rows)?;
        self.premises_step(conn, rows)?;
        self.supervisors_step(conn, rows)
    }

    fn load_regions(&mut self, conn: &mut DbConn, rows: &[Row]) -> Step {
        let mut codes = BTreeSet::new();
        for row in rows {
            match row {
                Row::Region {
                    code, parent_code, ..
                } => {
                    codes.insert(code.clone());
                    codes.extend(parent_code.clone());
                }
                Row::Organization {
                    region_code,
                    jurisdiction,
                    ..
                } => {
                    codes.insert(region_code.clone());
                    codes.extend(jurisdiction.iter().flatten().cloned());
                }
                Row::Person { region_code, .. } | Row::Premises { region_code, .. } => {
                    codes.insert(region_code.clone());
                }
            }
        }
        let codes: Vec<String> = codes.into_iter().collect();
        let scope = self.actor.scope();
        for r in region_store::by_codes(conn, &codes)? {
            if scope.contains(&r.path) {
                self.regions.insert(r.code.clone(), r);
            } else {
                self.hidden.insert(r.code.clone());
            }
        }
        Ok(())
    }

    fn regions_step(&mut self, conn: &mut DbConn, rows: &[Row]) -> Step {
        let mut todo: Vec<&Row> = rows
            .iter()
            .filter(|r| matches!(r, Row::Region { .. }))
            .collect();
        // Parents before children, whatever the order in the file: a child is one level down.
        todo.sort_by_key(|r| match r {
            Row::Region { level, line, .. } => (level.depth(), *line),
            _ => (0, 0),
        });
        let mut seen: HashMap<&str, u64> = HashMap::new();
        for row in todo {
            let Row::Region {
                line,
                level,
                code,
                parent_code,
                name,
                ..
            } = row
            else {
                continue;
            };
            let (line, level) = (*line, *level);
            if let Some(first) = seen.insert(code.as_str(), line) {
                self.fail(
                    line,
                    "code",
                    format!("region {code} is also on line {first}"),
                );
                continue;
            }
            let errors_before = self.errors.len();
            let parent = match parent_code {
                Some(pc) => match self.regions.get(pc) {
                    Some(p) => Some(p.clone()),
                    None => {
                        self.unknown_region(line, "parent_code", pc);
                        self.bad_codes.insert(code.clone(), line);
                        continue;
                    }
                },
                None => None,
            };
            if let Some(existing) = self.regions.get(code).cloned() {
                if existing.level != level {
                    self.fail(
                        line,
                        "level",
                        format!(
                            "region {code} exists as a {}; levels never change",
                            existing.level
                        ),
                    );
                } else if existing.parent_id != parent.as_ref().map(|p| p.id) {
                    self.fail(
                        line,
                        "parent_code",
                        format!("region {code} exists under another parent; regions never move"),
                    );
                } else if existing.name != *name {
                    let r = region_store::update(conn, existing.id, Some(name), None, self.now);
                    let updated = self.store(line, "name", r)?;
                    self.regions.insert(code.clone(), updated);
                    self.report.regions.updated += 1;
                } else {
                    self.report.regions.unchanged += 1;
                }
            } else if self.hidden.contains(code) {
                self.fail(line, "code", format!("region code {code} is already used"));
            } else {
                // The API's rule (`regions::store::placement`), told in the file's terms.
                match (region_store::placement(parent.as_ref(), level), &parent) {
                    (Err(Misplaced::NotARoot), _) => self.fail(
                        line,
                        "parent_code",
                        format!("is required: a {level} lies inside a region"),
                    ),
                    (
                        Err(Misplaced::WrongLevel {
                            parent: pl,
                            expected,
                        }),
                        p,
                    ) => {
                        let child = expected.map_or("nothing".to_string(), |c| c.to_string());
                        let pname = p.as_ref().map_or("", |p| p.name.as_str());
                        self.fail(
                            line,
                            "level",
                            format!(
                                "a {level} cannot lie in the {pl} {pname}; a child of a {pl} is a {child}"
                            ),
                        );
                    }
                    (Ok(()), None) if !self.actor.may(Capability::ManageGrid, Target::Top) => self
                        .fail(
                            line,
                            "parent_code",
                            "only global administrators create root regions",
                        ),
                    (Ok(()), _) => {
                        let r = region_store::create(
                            conn,
                            parent.as_ref(),
                            level,
                            name,
                            code,
                            self.now,
                        );
                        let created = self.store(line, "code", r)?;
                        self.regions.insert(code.clone(), created);
                        self.report.regions.created += 1;
                    }
                }
            }
            if self.errors.len() > errors_before {
                self.bad_codes.insert(code.clone(), line);
            }
        }
        Ok(())
    }

    fn organizations_step(&mut self, conn: &mut DbConn, rows: &[Row]) -> Step {
        // Organisations already sitting in the regions this file names (people name them too).
        let region_ids: Vec<i64> = rows
            .iter()
            .filter_map(|r| match r {
                Row::Organization { region_code, .. } | Row::Person { region_code, .. } => {
                    self.regions.get(region_code)
                }
                _ => None,
            })
            .map(|r| r.id)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut current: HashMap<i64, BTreeSet<i64>> = HashMap::new();
        for chunk in region_ids.chunks(1000) {
            let found: Vec<OrgRow> = organizations::table
                .filter(organizations::region_id.eq_any(chunk))
                .select(OrgRow::as_select())
                .load(conn)?;
            let ids: Vec<i64> = found.iter().map(|o| o.id).collect();
            let juris: Vec<(i64, i64)> = organization_jurisdictions::table
                .filter(organization_jurisdictions::organization_id.eq_any(&ids))
                .select((
                    organization_jurisdictions::organization_id,
                    organization_jurisdictions::region_id,
                ))
                .load(conn)?;
            for (org, region) in juris {
                current.entry(org).or_default().insert(region);
            }
            for o in found {
                self.orgs.insert((o.region_id, o.name.clone()), o);
            }
        }
        let mut seen: HashMap<(i64, String), u64> = HashMap::new();
        for row in rows {
            let Row::Organization {
                line,
                kind,
                name,
                region_code,
                jurisdiction,
            } = row
            else {
                continue;
            };
            let (line, kind) = (*line, *kind);
            let Some(region) = self.regions.get(region_code).cloned() else {
                self.unknown_region(line, "region_code", region_code);
                continue;
            };
            if !kind.home_levels().contains(&region.level) {
                let levels: Vec<&str> = kind.home_levels().iter().map(|l| l.as_str()).collect();
                self.fail(
                    line,
                    "region_code",
                    format!(
                        "a {kind} sits in a {}, not a {}",
                        levels.join(" or "),
                        region.level
                    ),
                );
                continue;
            }
            let key = (region.id, name.clone());
            if let Some(first) = seen.insert(key.clone(), line) {
                self.fail(
                    line,
                    "name",
                    format!("{name} in {} is also on line {first}", region.name),
                );
                continue;
            }
            let (org, created) = match self.orgs.get(&key) {
                Some(o) if o.kind != kind => {
                    self.fail(
                        line,
                        "org_kind",
                        format!("{name} in {} exists as a {}", region.name, o.kind),
                    );
                    continue;
                }
                Some(o) => (o.clone(), false),
                None => {
                    let r = org_store::insert(conn, kind, name, region.id, self.now);
                    let o = self.store(line, "name", r)?;
                    self.orgs.insert(key, o.clone());
                    (o, true)
                }
            };
            let mut changed = false;
            if let Some(codes) = jurisdiction {
                let Some(level) = kind.jurisdiction_level() else {
                    self.fail(
                        line,
                        "jurisdiction",
                        format!("a {kind} has no jurisdiction"),
                    );
                    continue;
                };
                let mut targets = Vec::new();
                for c in codes {
                    match self.regions.get(c) {
                        Some(r) if r.level == level => targets.push(r.clone()),
                        Some(r) => self.fail(
                            line,
                            "jurisdiction",
                            format!("{c} ({}) is not a {level}", r.name),
                        ),
                        None => self.unknown_region(line, "jurisdiction", c),
                    }
                }
                if targets.len() != codes.len() {
                    continue;
                }
                let wanted: BTreeSet<i64> = targets.iter().map(|r| r.id).collect();
                if current.get(&org.id).cloned().unwrap_or_default() != wanted {
                    // Checks first that no other organisation of the kind holds these regions.
                    if let Err(e) = org_store::set_jurisdiction(conn, &org, kind, &targets) {
                        if e.code == ErrorCode::Conflict {
                            self.fail(line, "jurisdiction", e.detail);
                            continue;
                        }
                        return Err(e.into());
                    }
                    current.insert(org.id, wanted);
                    changed = true;
                }
            }
            match (created, changed) {
                (true, _) => self.report.organizations.created += 1,
                (false, true) => self.report.organizations.updated += 1,
                (false, false) => self.report.organizations.unchanged += 1,
            }
        }
        Ok(())
    }

    fn people_step(&mut self, conn: &mut DbConn, rows: &[Row]) -> Step {
        let usernames: Vec<String> = rows
            .iter()
            .filter_map(|r| match r {
                Row::Person { username, .. } => Some(username.clone()),
                Row::Region { supervisor, .. } => supervisor.clone(),
                _ => None,
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut existing: HashMap<String, UserRow> = HashMap::new();
        for chunk in usernames.chunks(1000) {
            let found: Vec<UserRow> = users::table
                .filter(users::username.eq_any(chunk))
                .select(UserRow::as_select())
                .load(conn)?;
            existing.extend(found.into_iter().map(|u| (u.username.clone(), u)));
        }
        // Accounts are visible where their home region is.
        let homes: Vec<i64> = existing.values().filter_map(|u| u.region_id).collect();
        let home_paths: HashMap<i64, String> = region_store::get_many(conn, &homes)?
            .into_iter()
            .map(|r| (r.id, r.path))
            .collect();
        let scope = self.actor.scope();
        let (visible, hidden): (Vec<UserRow>, Vec<UserRow>) =
            existing.into_values().partition(|u| match u.region_id {
                Some(r) => home_paths.get(&r).is_some_and(|p| scope.contains(p)),
                None => scope.is_global(),
            });
        let hidden: HashSet<String> = hidden.into_iter().map(|u| u.username).collect();
        let mut by_name: HashMap<String, UserRow> = visible
            .into_iter()
            .map(|u| (u.username.clone(), u))
            .collect();

        type Held = (i64, Option<String>, Option<Background>);
        let ids: Vec<i64> = by_name.values().map(|u| u.id).collect();
        let mut held: HashMap<(i64, Role, Option<i64>, Option<i64>), Held> = HashMap::new();
        for chunk in ids.chunks(1000) {
            type A = (
                i64,
                i64,
                Role,
                Option<i64>,
                Option<i64>,
                Option<String>,
                Option<Background>,
            );
            let found: Vec<A> = role_assignments::table
                .filter(role_assignments::user_id.eq_any(chunk))
                .select((
                    role_assignments::id,
                    role_assignments::user_id,
                    role_assignments::role,
                    role_assignments::region_id,
                    role_assignments::organization_id,
                    role_assignments::title,
                    role_assignments::background,
                ))
                .load(conn)?;
            for (id, user, role, region, org, title, background) in found {
                held.insert((user, role, region, org), (id, title, background));
            }
        }

        for row in rows {
            let Row::Person {
                line,
                username,
                display_name,
                phone,
                region_code,
                role,
                organization,
                title,
                background,
            } = row
            else {
                continue;
            };
            let line = *line;
            let Some(region) = self.regions.get(region_code).cloned() else {
                self.unknown_region(line, "region_code", region_code);
                continue;
            };
            if !self
                .actor
                .may(Capability::ManageAccounts, Target::Region(&region.path))
            {
                self.unknown_region(line, "region_code", region_code);
                continue;
            }
            // The account.
            let user_id = if let Some((id, dn, ph, first)) = self.people.get(username) {
                if dn != display_name || (phone.is_some() && ph != phone) {
                    let first = *first;
                    let id = *id;
                    self.fail(
                        line,
                        "display_name",
                        format!("{username} is on line {first} with another name or phone"),
                    );
                    id
                } else {
                    *id
                }
            } else if let Some(u) = by_name.remove(username) {
                if u.display_name != *display_name || (phone.is_some() && u.phone != *phone) {
                    let changes = user_store::UserChanges {
                        display_name: Some(display_name.clone()),
                        phone: Some(phone.clone().or(u.phone.clone())),
                        ..user_store::UserChanges::at(self.now)
                    };
                    let r = user_store::update(conn, &u, &changes);
                    self.store(line, "display_name", r)?;
                    self.report.people.updated += 1;
                } else {
                    self.report.people.unchanged += 1;
                }
                let ph = phone.clone().or(u.phone);
                self.people
                    .insert(username.clone(), (u.id, display_name.clone(), ph, line));
                u.id
            } else if hidden.contains(username) {
                self.fail(
                    line,
                    "username",
                    format!("username {username} is already taken"),
                );
                continue;
            } else {
                let r = user_store::insert(
                    conn,
                    user_store::NewUserRow {
                        username,
                        display_name,
                        phone: phone.as_deref(),
                        region_id: Some(region.id),
                        password_hash: self.unusable_hash,
                    },
                    self.now,
                );
                let u = self.store(line, "username", r)?;
                self.report.people.created += 1;
                self.people.insert(
                    username.clone(),
                    (u.id, display_name.clone(), phone.clone(), line),
                );
                u.id
            };
            let Some(role) = *role else { continue };

            // The role and what it is bound to.
            let (region_id, org_id, bound) = match role.binding() {
                Binding::Organization(kind) => {
                    let Some(org_name) = organization else {
                        self.fail(
                            line,
                            "organization",
                            format!("is required: a {role} belongs to a {kind}"),
                        );
                        continue;
                    };
                    match self.orgs.get(&(region.id, org_name.clone())) {
                        Some(o) => (None, Some(o.id), Bound::Organization(o.kind)),
                        None => {
                            self.fail(
                                line,
                                "organization",
                                format!("no organisation named {org_name} sits in {}", region.name),
                            );
                            continue;
                        }
                    }
                }
                _ if organization.is_some() => {
                    self.fail(
                        line,
                        "organization",
                        "only police and fire officers belong to an organisation",
                    );
                    continue;
                }
                _ => (Some(region.id), None, Bound::Region(region.level)),
            };
            if let Err(e) = grants::check(role, bound, title.as_deref(), *background) {
                for f in e.errors {
                    let column = match f.field.as_str() {
                        "region_id" => "region_code",
                        "organization_id" => "organization",
                        other => other,
                    }
                    .to_string();
                    self.fail(line, &column, f.message);
                }
                continue;
            }
            let key = (user_id, role, region_id, org_id);
            let bg = *background;
            if let Some((id, t, b)) = held.get(&key).cloned() {
                if t != *title || b != bg {
                    let r = diesel::update(role_assignments::table.find(id))
                        .set((
                            role_assignments::title.eq(title),
                            role_assignments::background.eq(bg),
                        ))
                        .execute(conn)
                        .map_err(AppError::from);
                    self.store(line, "role", r)?;
                    held.insert(key, (id, title.clone(), bg));
                    self.report.roles.updated += 1;
                } else {
                    self.report.roles.unchanged += 1;
                }
                continue;
            }
            if role == Role::GridLeader {
                // A refusal is a read only: the line fails and the run goes on.
                match user_store::ensure_sole_leader(conn, &region, user_id) {
                    Err(e) if e.code == ErrorCode::Conflict => {
                        self.fail(line, "role", e.detail);
                        continue;
                    }
                    other => other?,
                }
            }
            let r =
                user_store::add_role(conn, user_id, role, region_id, org_id, title.as_deref(), bg);
            let id = self.store(line, "role", r)?;
            held.insert(key, (id, title.clone(), bg));
            self.report.roles.created += 1;
        }
        // Supervisors named in region rows may be existing accounts not on any person row.
        for (name, u) in by_name {
            self.people
                .entry(name)
                .or_insert((u.id, u.display_name, u.phone, 0));
        }
        Ok(())
    }

    fn premises_step(&mut self, conn: &mut DbConn, rows: &[Row]) -> Step {
        let group_ids: Vec<i64> = rows
            .iter()
            .filter_map(|r| match r {
                Row::Premises { region_code, .. } => self.regions.get(region_code).map(|g| g.id),
                _ => None,
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut existing: HashMap<(i64, String), PremisesRow> = HashMap::new();
        for chunk in group_ids.chunks(1000) {
            let found: Vec<PremisesRow> = premises::table
                .filter(premises::group_id.eq_any(chunk))
                .select(PremisesRow::as_select())
                .load(conn)?;
            existing.extend(found.into_iter().map(|p| ((p.group_id, p.name.clone()), p)));
        }
        let mut seen: HashMap<(i64, String), u64> = HashMap::new();
        for row in rows {
            let Row::Premises {
                line,
                region_code,
                premises: v,
            } = row
            else {
                continue;
            };
            let line = *line;
            let Some(group) = self.regions.get(region_code).cloned() else {
                self.unknown_region(line, "region_code", region_code);
                continue;
            };
            if group.level != RegionLevel::Group {
                self.fail(
                    line,
                    "region_code",
                    format!(
                        "premises lie in a group; {} is a {}",
                        group.name, group.level
                    ),
                );
                continue;
            }
            if !self
                .actor
                .may(Capability::ManagePremises, Target::Region(&group.path))
            {
                self.unknown_region(line, "region_code", region_code);
                continue;
            }
            let key = (group.id, v.name.clone());
            if let Some(first) = seen.insert(key.clone(), line) {
                self.fail(
                    line,
                    "name",
                    format!("{} in {} is also on line {first}", v.name, group.name),
                );
                continue;
            }
            match existing.get(&key) {
                Some(p) if p.valid() == *v => self.report.premises.unchanged += 1,
                Some(p) => {
                    let r = premises_store::replace(conn, p.id, &group, v, self.now);
                    self.store(line, "name", r)?;
                    self.report.premises.updated += 1;
                }
                None => {
                    let r = premises_store::insert(conn, &group, v, self.now);
                    self.store(line, "name", r)?;
                    self.report.premises.created += 1;
                }
            }
        }
        Ok(())
    }

    fn supervisors_step(&mut self, conn: &mut DbConn, rows: &[Row]) -> Step {
        for row in rows {
            let Row::Region {
                line,
                code,
                supervisor: Some(username),
                ..
            } = row
            else {
                continue;
            };
            let line = *line;
            // A region whose row failed is reported already.
            let Some(region) = self.regions.get(code).cloned() else {
                continue;
            };
            let Some((user_id, ..)) = self.people.get(username).cloned() else {
                self.fail(
                    line,
                    "supervisor",
                    format!("no account {username} in this file or in your area"),
                );
                continue;
            };
            let roles = region.level.supervisor_roles();
            let Some(parent) = region.parent_id.filter(|_| !roles.is_empty()) else {
                self.fail(
                    line,
                    "supervisor",
                    format!("a {} has no responsible supervisor", region.level),
                );
                continue;
            };
            if !region_store::holds_role_on(conn, user_id, roles, parent)? {
                let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
                self.fail(
                    line,
                    "supervisor",
                    format!(
                        "{username} must hold {} on the parent of {}",
                        names.join(" or "),
                        region.name
                    ),
                );
                continue;
            }
            match region.supervisor_user_id {
                Some(u) if u == user_id => self.report.supervisors.unchanged += 1,
                before => {
                    let r = region_store::set_supervisor(conn, region.id, Some(user_id), self.now);
                    self.store(line, "supervisor", r)?;
                    if before.is_some() {
                        self.report.supervisors.updated += 1;
                    } else {
                        self.report.supervisors.created += 1;
                    }
                }
            }
        }
        Ok(())
    }
}
