//! The case state machine of SPEC §5, pure: no HTTP, no database. Given a case's state, who is
//! acting and what they ask, it answers with the change to make or the reason to refuse.
//!
//! Refusals follow SPEC §9: a role that may never take an action gets 403 `forbidden`; a role
//! that may take it, but not in this status or at this level, gets 409 `invalid_transition`.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::auth::roles::Role;
use crate::hazards::model::{ActionKind, ActionRequest, Level, Outcome, Severity, Status};

/// What the machine needs to know of a case.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseState {
    pub status: Status,
    pub level: Level,
    pub severity: Severity,
    pub supervision_listed: bool,
    pub supervision_overdue: bool,
    pub deadline: Option<DateTime<Utc>>,
    /// Who submitted the pending rectification (four eyes at closure).
    pub rectification_submitted_by: Option<i64>,
    /// Whether a police station answers for the case's township.
    pub has_police_station: bool,
    /// A report from the public (群众举报): it has a reporter to answer (`reply_public`, the
    /// `public_reason` of `reject_report`).
    pub public: bool,
}

/// Who acts: every role the user holds, and those whose scope covers the case.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: i64,
    pub roles: Vec<Role>,
    pub covering: Vec<Role>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 403: no role of the caller ever may (or four eyes).
    Forbidden(String),
    /// 409 invalid_transition: not in this status, at this level or in this role now.
    InvalidTransition(String),
    /// 409 conflict: the world does not allow it (no police station for the township).
    Conflict(String),
    /// 422 on one field.
    Invalid {
        field: &'static str,
        message: String,
    },
}

/// The change an accepted action makes. `None` fields stay as they are.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Effects {
    pub status: Option<Status>,
    pub level: Option<Level>,
    /// `Some(None)` clears the deadline.
    pub deadline: Option<Option<DateTime<Utc>>>,
    pub difficulty: Option<crate::hazards::model::Difficulty>,
    pub supervision_listed: Option<bool>,
    pub supervision_overdue: Option<bool>,
    pub outcome: Option<Option<Outcome>>,
    pub duplicate_of: Option<Option<i64>>,
    pub rectification_submitted_by: Option<Option<i64>>,
    /// Set `closed_at` to now (`Some(true)`) or clear it (`Some(false)`).
    pub closed: Option<bool>,
    pub spot_checked: bool,
    /// The case is overdue but cannot move on: it keeps its deadline, and the store records
    /// the stall once per deadline (`stalled_deadlines`).
    pub stalled: bool,
    /// The event's parameters, as recorded in the timeline.
    pub params: Value,
    /// Whom to tell.
    pub notify: Option<Notify>,
    /// The text the reporter of a public report now sees.
    pub public_reply: Option<String>,
    /// verify: the case moves to this group of its village (the store checks that it is one).
    pub regroup: Option<i64>,
    /// The action is one the reporter sees (verify, reject, reply): the first of these is the
    /// case's first response (青政办〔2016〕189号, due within 48 hours).
    pub first_response: bool,
}

/// Notification triggers (SPEC §5, issue 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notify {
    /// The case arrived at a level: tell the staff of that level.
    ArrivedAtLevel,
    /// Closure rejected: tell whoever submitted the rectification.
    ClosureRejected,
    /// Listed for county supervision.
    Listed,
    /// Reopened: staff of its level.
    Reopened,
    /// Passed its deadline: the region's responsible supervisor and the staff.
    Overdue,
    /// Passed its deadline at a township without a police station: the county officials, the
    /// township's officials and its responsible supervisor.
    NoPoliceStation,
}

const GRID: &[Role] = &[
    Role::GridLeader,
    Role::GridInspector,
    Role::GridHandler,
    Role::GridCoordinator,
];
const VILLAGE: &[Role] = &[Role::VillageCadre, Role::VillagePolice];
const TOWNSHIP: &[Role] = &[Role::TownshipOfficial];
const POLICE: &[Role] = &[Role::PoliceOfficer];
const FIRE: &[Role] = &[Role::FireOfficer];

/// Staff handling a case at a level.
pub fn staff_at(level: Level) -> &'static [Role] {
    match level {
        Level::Group => GRID,
        Level::Village => VILLAGE,
        Level::Township => TOWNSHIP,
        Level::Police => POLICE,
    }
}

/// Every role that may take the action in some state: anyone else gets 403.
pub fn roles_ever(kind: ActionKind) -> Vec<Role> {
    use ActionKind as A;
    let v = |parts: &[&[Role]]| {
        parts
            .iter()
            .flat_map(|p| p.iter().copied())
            .collect::<Vec<_>>()
    };
    match kind {
        A::Verify | A::RejectReport => v(&[VILLAGE, TOWNSHIP, &[Role::CountyOfficial]]),
        A::Escalate => v(&[GRID, VILLAGE]),
        A::Classify => v(&[VILLAGE]),
        A::SetDeadline => v(&[GRID, VILLAGE, TOWNSHIP]),
        A::TransferToPolice => v(&[TOWNSHIP]),
        A::RecordEnforcement => v(&[POLICE]),
        A::ListForSupervision => v(&[POLICE, &[Role::CountyOfficial]]),
        A::SubmitRectification => v(&[GRID, VILLAGE, TOWNSHIP, POLICE]),
        A::ApproveClosure | A::RejectClosure => v(&[VILLAGE, TOWNSHIP, FIRE]),
        A::Reopen => v(&[FIRE, &[Role::CountyOfficial]]),
        A::SpotCheck => v(&[FIRE]),
        A::Comment => Role::ALL.to_vec(),
        // Whoever works the case may answer its reporter; an administrator keeps the grid, not
        // cases.
        A::ReplyPublic => v(&[
            GRID,
            VILLAGE,
            TOWNSHIP,
            POLICE,
            FIRE,
            &[Role::CountyOfficial],
        ]),
    }
}

/// Who reviews a closure: fire officers for township- and police-level, major or listed cases;
/// otherwise the tier above the one that rectified.
pub fn reviewers(case: &CaseState) -> &'static [Role] {
    if case.severity == Severity::Major || case.supervision_listed {
        return FIRE;
    }
    match case.level {
        Level::Group => VILLAGE,
        Level::Village => TOWNSHIP,
        Level::Township | Level::Police => FIRE,
    }
}

/// The roles that may take the action on this case now, or `None` when its status and level
/// allow the action to nobody.
fn roles_now(case: &CaseState, kind: ActionKind) -> Option<Vec<Role>> {
    use ActionKind as A;
    use Level as L;
    use Status as S;
    let open = case.status == S::Open;
    let roles: Vec<Role> = match kind {
        A::Verify if case.status == S::PendingVerification => roles_ever(kind),
        A::RejectReport
            if case.status == S::PendingVerification
                || (open && matches!(case.level, L::Group | L::Village)) =>
        {
            roles_ever(kind)
        }
        A::Escalate if open && matches!(case.level, L::Group | L::Village) => {
            staff_at(case.level).to_vec()
        }
        A::Classify if open && case.level == L::Village => VILLAGE.to_vec(),
        A::SetDeadline if open && case.level != L::Police => staff_at(case.level).to_vec(),
        A::TransferToPolice if open && case.level == L::Township => TOWNSHIP.to_vec(),
        A::RecordEnforcement if open && case.level == L::Police => POLICE.to_vec(),
        A::ListForSupervision
            if open
                && case.level == L::Police
                && case.severity == Severity::Major
                && !case.supervision_listed =>
        {
            roles_ever(kind)
        }
        A::SubmitRectification if open => {
            // The group's leader and handler are on site: they may submit at any level.
            let mut r = staff_at(case.level).to_vec();
            r.extend([Role::GridLeader, Role::GridHandler]);
            r
        }
        A::ApproveClosure | A::RejectClosure if case.status == S::AwaitingReview => {
            reviewers(case).to_vec()
        }
        A::Reopen if case.status == S::Closed => roles_ever(kind),
        A::SpotCheck if case.status == S::Closed => FIRE.to_vec(),
        A::Comment => roles_ever(kind),
        A::ReplyPublic if case.public => roles_ever(kind),
        _ => return None,
    };
    Some(roles)
}

/// Whether `actor` may take `kind` on `case` now, before looking at any parameter.
pub fn check(case: &CaseState, actor: &Actor, kind: ActionKind) -> Result<(), Refusal> {
    let ever = roles_ever(kind);
    if !actor.roles.iter().any(|r| ever.contains(r)) {
        return Err(Refusal::Forbidden(format!("your roles never allow {kind}")));
    }
    let Some(now) = roles_now(case, kind) else {
        return Err(Refusal::InvalidTransition(format!(
            "{kind} is not possible on a {} case at {} level",
            case.status, case.level
        )));
    };
    if !actor.covering.iter().any(|r| now.contains(r)) {
        return Err(Refusal::InvalidTransition(format!(
            "{kind} on a {} case at {} level is for {}",
            case.status,
            case.level,
            now.iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if matches!(kind, ActionKind::ApproveClosure)
        && case.rectification_submitted_by == Some(actor.user_id)
    {
        return Err(Refusal::Forbidden(
            "four eyes: you submitted this rectification".into(),
        ));
    }
    Ok(())
}

/// Every action `actor` may take on `case` now: the buttons a phone shows.
pub fn allowed_actions(case: &CaseState, actor: &Actor) -> Vec<ActionKind> {
    ActionKind::ALL
        .iter()
        .copied()
        .filter(|k| check(case, actor, *k).is_ok())
        .collect()
}

fn text(
    field: &'static str,
    value: &Option<String>,
    max: usize,
    required: bool,
) -> Result<Option<String>, Refusal> {
    match value.as_deref().map(str::trim) {
        None | Some("") if required => Err(Refusal::Invalid {
            field,
            message: "is required".into(),
        }),
        None | Some("") => Ok(None),
        Some(v) if v.chars().count() > max => Err(Refusal::Invalid {
            field,
            message: format!("must be at most {max} characters"),
        }),
        Some(v) => Ok(Some(v.to_string())),
    }
}

fn required<T: Copy>(field: &'static str, value: Option<T>) -> Result<T, Refusal> {
    value.ok_or(Refusal::Invalid {
        field,
        message: "is required".into(),
    })
}

fn future(
    field: &'static str,
    value: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, Refusal> {
    let d = required(field, value)?;
    if d <= now {
        return Err(Refusal::Invalid {
            field,
            message: "must be in the future".into(),
        });
    }
    Ok(d)
}

/// Refuses parameters that the action does not take, so a typo is not silently ignored.
fn only(req: &ActionRequest, allowed: &[&str]) -> Result<(), Refusal> {
    let given = [
        ("reason", req.reason.is_some()),
        ("to_level", req.to_level.is_some()),
        ("group_id", req.group_id.is_some()),
        ("difficulty", req.difficulty.is_some()),
        ("deadline", req.deadline.is_some()),
        ("measure", req.measure.is_some()),
        ("document_no", req.document_no.is_some()),
        ("note", req.note.is_some()),
        ("attachment_ids", req.attachment_ids.is_some()),
        ("outcome", req.outcome.is_some()),
        ("duplicate_of", req.duplicate_of.is_some()),
        ("passed", req.passed.is_some()),
        ("text", req.text.is_some()),
        ("public_reason", req.public_reason.is_some()),
    ];
    for (name, present) in given {
        if present && !allowed.contains(&name) {
            return Err(Refusal::Invalid {
                field: name,
                message: format!("is not a parameter of {}", req.action),
            });
        }
    }
    Ok(())
}

fn params(pairs: Vec<(&str, Value)>) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        if !v.is_null() {
            m.insert(k.to_string(), v);
        }
    }
    Value::Object(m)
}

/// Checks the request (permission, state, parameters) and returns the change it makes.
pub fn apply(
    case: &CaseState,
    actor: &Actor,
    req: &ActionRequest,
    now: DateTime<Utc>,
) -> Result<Effects, Refusal> {
    use ActionKind as A;
    check(case, actor, req.action)?;
    let mut fx = Effects::default();
    match req.action {
        A::Verify => {
            // A verified report becomes an ordinary case at the village, or at its group when
            // the group can handle it; the normal ladder goes on from there.
            only(req, &["note", "to_level", "group_id"])?;
            let note = text("note", &req.note, 2000, false)?;
            let to = req.to_level.unwrap_or(Level::Village);
            if !matches!(to, Level::Group | Level::Village) {
                return Err(Refusal::Invalid {
                    field: "to_level",
                    message: "a verified report opens at group or village level".into(),
                });
            }
            if req.group_id.is_some() && to != Level::Group {
                return Err(Refusal::Invalid {
                    field: "group_id",
                    message: "names the group a report opens at (to_level group)".into(),
                });
            }
            fx.status = Some(Status::Open);
            fx.level = Some(to);
            fx.first_response = case.public;
            fx.regroup = req.group_id;
            fx.params = params(vec![
                ("note", json!(note)),
                ("to_level", json!(to)),
                ("group_id", json!(req.group_id)),
            ]);
            fx.notify = Some(Notify::ArrivedAtLevel);
        }
        A::RejectReport => {
            // Unfounded, or (with `duplicate_of`) a second report of a case already known. The
            // reporter of a public report is told why (`public_reason`); `reason` stays inside.
            only(req, &["reason", "public_reason", "duplicate_of"])?;
            let reason = text("reason", &req.reason, 500, !case.public)?;
            let public_reason = text("public_reason", &req.public_reason, 500, case.public)?;
            if !case.public && public_reason.is_some() {
                return Err(Refusal::Invalid {
                    field: "public_reason",
                    message: "only a public report has a reporter to tell".into(),
                });
            }
            match req.duplicate_of {
                Some(original) => {
                    fx.status = Some(Status::Closed);
                    fx.outcome = Some(Some(Outcome::Duplicate));
                    fx.duplicate_of = Some(Some(original));
                }
                None => {
                    fx.status = Some(Status::Rejected);
                    fx.outcome = Some(Some(Outcome::Unfounded));
                }
            }
            fx.closed = Some(true);
            fx.deadline = Some(None);
            fx.first_response = case.public;
            fx.public_reply = public_reason.clone();
            fx.params = params(vec![
                ("reason", json!(reason)),
                ("public_reason", json!(public_reason)),
                ("duplicate_of", json!(req.duplicate_of)),
            ]);
        }
        A::Escalate => {
            only(req, &["reason", "to_level"])?;
            let reason = text("reason", &req.reason, 500, false)?;
            let next = case
                .level
                .next()
                .ok_or(Refusal::InvalidTransition("no level above".into()))?;
            let to = req.to_level.unwrap_or(next);
            if to.rank() <= case.level.rank() {
                return Err(Refusal::Invalid {
                    field: "to_level",
                    message: "must be above the current level".into(),
                });
            }
            if to != next && case.severity != Severity::Major {
                return Err(Refusal::Invalid {
                    field: "to_level",
                    message: "only a major hazard may skip levels".into(),
                });
            }
            if to == Level::Police && !case.has_police_station {
                return Err(Refusal::Conflict(
                    "no police station answers for this township".into(),
                ));
            }
            fx.level = Some(to);
            fx.deadline = Some(None);
            fx.params = params(vec![("reason", json!(reason)), ("to_level", json!(to))]);
            fx.notify = Some(Notify::ArrivedAtLevel);
        }
        A::Classify => {
            only(req, &["difficulty"])?;
            let d = required("difficulty", req.difficulty)?;
            fx.difficulty = Some(d);
            fx.params = params(vec![("difficulty", json!(d))]);
        }
        A::SetDeadline => {
            only(req, &["deadline"])?;
            let d = future("deadline", req.deadline, now)?;
            fx.deadline = Some(Some(d));
            fx.params = params(vec![("deadline", json!(d))]);
        }
        A::TransferToPolice => {
            only(req, &["reason"])?;
            let reason = text("reason", &req.reason, 500, false)?;
            if !case.has_police_station {
                return Err(Refusal::Conflict(
                    "no police station answers for this township".into(),
                ));
            }
            fx.level = Some(Level::Police);
            fx.deadline = Some(None);
            fx.params = params(vec![("reason", json!(reason))]);
            fx.notify = Some(Notify::ArrivedAtLevel);
        }
        A::RecordEnforcement => {
            only(req, &["measure", "document_no", "note"])?;
            let m = required("measure", req.measure)?;
            let doc = text("document_no", &req.document_no, 64, true)?;
            let note = text("note", &req.note, 2000, false)?;
            fx.params = params(vec![
                ("measure", json!(m)),
                ("document_no", json!(doc)),
                ("note", json!(note)),
            ]);
        }
        A::ListForSupervision => {
            only(req, &["deadline", "reason"])?;
            let d = future("deadline", req.deadline, now)?;
            let reason = text("reason", &req.reason, 500, false)?;
            fx.supervision_listed = Some(true);
            fx.supervision_overdue = Some(false);
            fx.deadline = Some(Some(d));
            fx.params = params(vec![("deadline", json!(d)), ("reason", json!(reason))]);
            fx.notify = Some(Notify::Listed);
        }
        A::SubmitRectification => {
            only(req, &["note", "attachment_ids"])?;
            let note = text("note", &req.note, 2000, true)?;
            let ids = req.attachment_ids.clone().unwrap_or_default();
            if ids.len() > 20 {
                return Err(Refusal::Invalid {
                    field: "attachment_ids",
                    message: "at most 20 photos".into(),
                });
            }
            fx.status = Some(Status::AwaitingReview);
            fx.rectification_submitted_by = Some(Some(actor.user_id));
            fx.params = params(vec![("note", json!(note)), ("attachment_ids", json!(ids))]);
        }
        A::ApproveClosure => {
            only(req, &["outcome", "duplicate_of", "note"])?;
            let outcome = required("outcome", req.outcome)?;
            let note = text("note", &req.note, 2000, false)?;
            match (outcome, req.duplicate_of) {
                (Outcome::Duplicate, None) => {
                    return Err(Refusal::Invalid {
                        field: "duplicate_of",
                        message: "names the original case".into(),
                    })
                }
                (Outcome::Rectified | Outcome::Unfounded, Some(_)) => {
                    return Err(Refusal::Invalid {
                        field: "duplicate_of",
                        message: "only for outcome duplicate".into(),
                    })
                }
                _ => {}
            }
            fx.status = Some(Status::Closed);
            fx.outcome = Some(Some(outcome));
            fx.duplicate_of = Some(req.duplicate_of);
            fx.closed = Some(true);
            fx.deadline = Some(None);
            fx.params = params(vec![
                ("outcome", json!(outcome)),
                ("duplicate_of", json!(req.duplicate_of)),
                ("note", json!(note)),
            ]);
        }
        A::RejectClosure => {
            only(req, &["reason"])?;
            let reason = text("reason", &req.reason, 500, true)?;
            fx.status = Some(Status::Open);
            fx.params = params(vec![("reason", json!(reason))]);
            fx.notify = Some(Notify::ClosureRejected);
        }
        A::Reopen => {
            only(req, &["reason"])?;
            let reason = text("reason", &req.reason, 500, true)?;
            reopen(&mut fx);
            fx.params = params(vec![("reason", json!(reason))]);
        }
        A::SpotCheck => {
            only(req, &["passed", "note"])?;
            let passed = required("passed", req.passed)?;
            let note = text("note", &req.note, 2000, !passed)?;
            fx.spot_checked = true;
            if !passed {
                reopen(&mut fx);
            }
            fx.params = params(vec![("passed", json!(passed)), ("note", json!(note))]);
        }
        A::Comment => {
            only(req, &["text"])?;
            let t = text("text", &req.text, 2000, true)?;
            fx.params = params(vec![("text", json!(t))]);
        }
        A::ReplyPublic => {
            only(req, &["text"])?;
            let t = text("text", &req.text, 2000, true)?;
            fx.first_response = true;
            fx.public_reply = t.clone();
            fx.params = params(vec![("text", json!(t))]);
        }
    }
    Ok(fx)
}

fn reopen(fx: &mut Effects) {
    fx.status = Some(Status::Open);
    fx.outcome = Some(None);
    fx.duplicate_of = Some(None);
    fx.rectification_submitted_by = Some(None);
    fx.closed = Some(false);
    fx.notify = Some(Notify::Reopened);
}

/// What the system does to a case whose deadline has passed (交由上级 / 交由公安派出所依法查处):
/// one level up, or, at police level, flag a listed case overdue on the county's board.
/// `None` when nothing is due.
pub fn expire(case: &CaseState, now: DateTime<Utc>) -> Option<Effects> {
    if case.status != Status::Open || case.deadline.is_none_or(|d| d > now) {
        return None;
    }
    let deadline = case.deadline;
    let mut fx = Effects {
        notify: Some(Notify::Overdue),
        ..Effects::default()
    };
    match case.level.next() {
        Some(Level::Police) if !case.has_police_station => {
            // Nowhere to send it: it stays at the township and stays overdue (its deadline is
            // kept), the county and the township hear why, and the timeline says so.
            fx.stalled = true;
            fx.notify = Some(Notify::NoPoliceStation);
            fx.params = json!({"deadline": deadline, "blocked": "no police station answers for this township"});
        }
        Some(next) => {
            fx.level = Some(next);
            fx.deadline = Some(None);
            fx.params = json!({"deadline": deadline, "to_level": next});
        }
        None if case.supervision_listed && !case.supervision_overdue => {
            fx.supervision_overdue = Some(true);
            fx.params = json!({"deadline": deadline, "flagged": "supervision_overdue"});
        }
        None => return None,
    }
    Some(fx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hazards::model::{Difficulty, Measure};
    use ActionKind as A;
    use Level as L;
    use Role as R;
    use Status as S;

    fn case(status: Status, level: Level, severity: Severity, listed: bool) -> CaseState {
        CaseState {
            public: false,
            status,
            level,
            severity,
            supervision_listed: listed,
            supervision_overdue: false,
            deadline: None,
            rectification_submitted_by: None,
            has_police_station: true,
        }
    }

    fn actor(role: Role) -> Actor {
        Actor {
            user_id: 7,
            roles: vec![role],
            covering: vec![role],
        }
    }

    /// SPEC §5's table restated row by row: (statuses, levels, severity/listing, who).
    fn spec(c: &CaseState, role: Role, action: ActionKind) -> &'static str {
        let grid = matches!(
            role,
            R::GridLeader | R::GridInspector | R::GridHandler | R::GridCoordinator
        );
        let village = matches!(role, R::VillageCadre | R::VillagePolice);
        let staff_here = match c.level {
            L::Group => grid,
            L::Village => village,
            L::Township => role == R::TownshipOfficial,
            L::Police => role == R::PoliceOfficer,
        };
        let village_or_above = village || matches!(role, R::TownshipOfficial | R::CountyOfficial);
        // Who may ever: the "who" column over all rows.
        let ever = match action {
            A::Verify | A::RejectReport => village_or_above,
            A::Escalate => grid || village,
            A::Classify => village,
            A::SetDeadline => grid || village || role == R::TownshipOfficial,
            A::TransferToPolice => role == R::TownshipOfficial,
            A::RecordEnforcement => role == R::PoliceOfficer,
            A::ListForSupervision => matches!(role, R::PoliceOfficer | R::CountyOfficial),
            A::SubmitRectification => {
                grid || village || matches!(role, R::TownshipOfficial | R::PoliceOfficer)
            }
            A::ApproveClosure | A::RejectClosure => {
                village || matches!(role, R::TownshipOfficial | R::FireOfficer)
            }
            A::Reopen => matches!(role, R::FireOfficer | R::CountyOfficial),
            A::SpotCheck => role == R::FireOfficer,
            A::Comment => true,
            A::ReplyPublic => role != R::Admin,
        };
        if !ever {
            return "403";
        }
        let open = c.status == S::Open;
        let reviewer = if c.severity == Severity::Major
            || c.supervision_listed
            || matches!(c.level, L::Township | L::Police)
        {
            role == R::FireOfficer
        } else if c.level == L::Group {
            village
        } else {
            role == R::TownshipOfficial
        };
        let now = match action {
            A::Verify => c.status == S::PendingVerification,
            A::RejectReport => {
                c.status == S::PendingVerification
                    || (open && matches!(c.level, L::Group | L::Village))
            }
            A::Escalate => open && matches!(c.level, L::Group | L::Village) && staff_here,
            A::Classify => open && c.level == L::Village,
            A::SetDeadline => open && c.level != L::Police && staff_here,
            A::TransferToPolice => open && c.level == L::Township,
            A::RecordEnforcement => open && c.level == L::Police,
            A::ListForSupervision => {
                open && c.level == L::Police
                    && c.severity == Severity::Major
                    && !c.supervision_listed
            }
            A::SubmitRectification => {
                open && (staff_here || matches!(role, R::GridLeader | R::GridHandler))
            }
            A::ApproveClosure | A::RejectClosure => c.status == S::AwaitingReview && reviewer,
            A::Reopen | A::SpotCheck => c.status == S::Closed,
            A::Comment => true,
            A::ReplyPublic => c.public,
        };
        if now {
            "ok"
        } else {
            "409"
        }
    }

    fn outcome(r: Result<(), Refusal>) -> &'static str {
        match r {
            Ok(()) => "ok",
            Err(Refusal::Forbidden(_)) => "403",
            Err(Refusal::InvalidTransition(_)) => "409",
            Err(_) => "other",
        }
    }

    /// Every (status, level, severity, listing, role, action).
    #[test]
    fn the_whole_matrix_matches_the_spec() {
        let mut checked = 0;
        for &status in S::ALL {
            for &level in L::ALL {
                for &severity in Severity::ALL {
                    for (listed, public) in
                        [(false, false), (true, false), (false, true), (true, true)]
                    {
                        let c = CaseState {
                            public,
                            ..case(status, level, severity, listed)
                        };
                        for &role in R::ALL {
                            for &action in A::ALL {
                                let got = outcome(check(&c, &actor(role), action));
                                let want = spec(&c, role, action);
                                assert_eq!(
                                    got, want,
                                    "{status} {level} {severity} listed={listed} public={public} {role} {action}"
                                );
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 5 * 4 * 2 * 4 * 11 * 15);
    }

    #[test]
    fn a_role_must_cover_the_case_to_act() {
        // A village cadre elsewhere who is grid inspector here acts only as an inspector.
        let c = case(S::Open, L::Village, Severity::General, false);
        let a = Actor {
            user_id: 1,
            roles: vec![R::VillageCadre, R::GridInspector],
            covering: vec![R::GridInspector],
        };
        assert_eq!(outcome(check(&c, &a, A::Classify)), "409");
        assert_eq!(outcome(check(&c, &a, A::Comment)), "ok");
    }

    #[test]
    fn four_eyes_at_closure() {
        let mut c = case(S::AwaitingReview, L::Group, Severity::General, false);
        c.rectification_submitted_by = Some(7);
        assert_eq!(
            outcome(check(&c, &actor(R::VillageCadre), A::ApproveClosure)),
            "403"
        );
        // Rejecting one's own is not approving it.
        assert_eq!(
            outcome(check(&c, &actor(R::VillageCadre), A::RejectClosure)),
            "ok"
        );
        c.rectification_submitted_by = Some(8);
        assert_eq!(
            outcome(check(&c, &actor(R::VillageCadre), A::ApproveClosure)),
            "ok"
        );
    }

    #[test]
    fn allowed_actions_are_the_buttons() {
        let c = case(S::Open, L::Group, Severity::General, false);
        assert_eq!(
            allowed_actions(&c, &actor(R::GridInspector)),
            vec![
                A::Escalate,
                A::SetDeadline,
                A::SubmitRectification,
                A::Comment
            ]
        );
        assert_eq!(
            allowed_actions(&c, &actor(R::VillageCadre)),
            vec![A::RejectReport, A::Comment]
        );
        assert_eq!(allowed_actions(&c, &actor(R::Admin)), vec![A::Comment]);
    }

    fn req(action: ActionKind) -> ActionRequest {
        ActionRequest::new(action)
    }

    #[test]
    fn verify_names_a_group_only_when_opening_at_group_level() {
        let mut pending = case(S::PendingVerification, L::Village, Severity::General, false);
        pending.public = true;
        let to_group = ActionRequest {
            to_level: Some(L::Group),
            group_id: Some(7),
            ..req(A::Verify)
        };
        let fx = apply(&pending, &actor(R::VillageCadre), &to_group, now()).unwrap();
        assert_eq!((fx.level, fx.regroup), (Some(L::Group), Some(7)));
        assert_eq!(fx.params["group_id"], 7);
        let at_village = ActionRequest {
            group_id: Some(7),
            ..req(A::Verify)
        };
        assert_eq!(
            field(apply(&pending, &actor(R::VillageCadre), &at_village, now())),
            "group_id"
        );
        let fx = apply(&pending, &actor(R::VillageCadre), &req(A::Verify), now()).unwrap();
        assert_eq!(fx.regroup, None);
        assert!(fx.params.get("group_id").is_none());
        // No other action takes a group.
        let stray = ActionRequest {
            group_id: Some(7),
            ..req(A::Escalate)
        };
        let open = case(S::Open, L::Group, Severity::General, false);
        assert_eq!(
            field(apply(&open, &actor(R::GridInspector), &stray, now())),
            "group_id"
        );
    }

    fn now() -> DateTime<Utc> {
        "2026-11-27T10:00:00Z".parse().unwrap()
    }

    fn field(r: Result<Effects, Refusal>) -> &'static str {
        match r {
            Err(Refusal::Invalid { field, .. }) => field,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn escalation_goes_one_level_up_and_only_major_skips() {
        let c = case(S::Open, L::Group, Severity::General, false);
        let fx = apply(&c, &actor(R::GridInspector), &req(A::Escalate), now()).unwrap();
        assert_eq!(fx.level, Some(L::Village));
        assert_eq!(fx.notify, Some(Notify::ArrivedAtLevel));
        let skip = ActionRequest {
            to_level: Some(L::Township),
            ..req(A::Escalate)
        };
        assert_eq!(
            field(apply(&c, &actor(R::GridInspector), &skip, now())),
            "to_level"
        );
        let major = case(S::Open, L::Group, Severity::Major, false);
        let to_police = ActionRequest {
            to_level: Some(L::Police),
            ..req(A::Escalate)
        };
        assert_eq!(
            apply(&major, &actor(R::GridLeader), &to_police, now())
                .unwrap()
                .level,
            Some(L::Police)
        );
        let down = ActionRequest {
            to_level: Some(L::Group),
            ..req(A::Escalate)
        };
        assert_eq!(
            field(apply(&major, &actor(R::GridLeader), &down, now())),
            "to_level"
        );
        let no_station = CaseState {
            has_police_station: false,
            ..major
        };
        assert!(matches!(
            apply(&no_station, &actor(R::GridLeader), &to_police, now()),
            Err(Refusal::Conflict(_))
        ));
    }

    #[test]
    fn parameters_are_checked() {
        let village = case(S::Open, L::Village, Severity::General, false);
        assert_eq!(
            field(apply(
                &village,
                &actor(R::VillageCadre),
                &req(A::Classify),
                now()
            )),
            "difficulty"
        );
        let ok = ActionRequest {
            difficulty: Some(Difficulty::Hard),
            ..req(A::Classify)
        };
        assert_eq!(
            apply(&village, &actor(R::VillageCadre), &ok, now())
                .unwrap()
                .difficulty,
            Some(Difficulty::Hard)
        );
        let stray = ActionRequest {
            difficulty: Some(Difficulty::Hard),
            ..req(A::Escalate)
        };
        assert_eq!(
            field(apply(&village, &actor(R::VillageCadre), &stray, now())),
            "difficulty"
        );
        let past = ActionRequest {
            deadline: Some(now() - chrono::Duration::hours(1)),
            ..req(A::SetDeadline)
        };
        assert_eq!(
            field(apply(&village, &actor(R::VillageCadre), &past, now())),
            "deadline"
        );
        let police = case(S::Open, L::Police, Severity::Major, false);
        let enf = ActionRequest {
            measure: Some(Measure::Fine),
            ..req(A::RecordEnforcement)
        };
        assert_eq!(
            field(apply(&police, &actor(R::PoliceOfficer), &enf, now())),
            "document_no"
        );
        let review = case(S::AwaitingReview, L::Police, Severity::Major, false);
        let dup = ActionRequest {
            outcome: Some(Outcome::Duplicate),
            ..req(A::ApproveClosure)
        };
        assert_eq!(
            field(apply(&review, &actor(R::FireOfficer), &dup, now())),
            "duplicate_of"
        );
        let rectified = ActionRequest {
            outcome: Some(Outcome::Rectified),
            duplicate_of: Some(3),
            ..req(A::ApproveClosure)
        };
        assert_eq!(
            field(apply(&review, &actor(R::FireOfficer), &rectified, now())),
            "duplicate_of"
        );
        assert_eq!(
            field(apply(
                &review,
                &actor(R::FireOfficer),
                &req(A::RejectClosure),
                now()
            )),
            "reason"
        );
        let blank = ActionRequest {
            text: Some("   ".into()),
            ..req(A::Comment)
        };
        assert_eq!(
            field(apply(&review, &actor(R::FireOfficer), &blank, now())),
            "text"
        );
    }

    #[test]
    fn closure_records_the_outcome_and_reopening_clears_it() {
        let review = case(S::AwaitingReview, L::Township, Severity::General, false);
        let approve = ActionRequest {
            outcome: Some(Outcome::Rectified),
            ..req(A::ApproveClosure)
        };
        let fx = apply(&review, &actor(R::FireOfficer), &approve, now()).unwrap();
        assert_eq!(
            (fx.status, fx.outcome, fx.closed),
            (Some(S::Closed), Some(Some(Outcome::Rectified)), Some(true))
        );
        let closed = case(S::Closed, L::Township, Severity::General, false);
        let failed = ActionRequest {
            passed: Some(false),
            note: Some("灭火器仍已过期".into()),
            ..req(A::SpotCheck)
        };
        let fx = apply(&closed, &actor(R::FireOfficer), &failed, now()).unwrap();
        assert_eq!(
            (fx.status, fx.outcome, fx.spot_checked),
            (Some(S::Open), Some(None), true)
        );
        let passed = ActionRequest {
            passed: Some(true),
            ..req(A::SpotCheck)
        };
        let fx = apply(&closed, &actor(R::FireOfficer), &passed, now()).unwrap();
        assert_eq!((fx.status, fx.spot_checked), (None, true));
        let no_note = ActionRequest {
            passed: Some(false),
            ..req(A::SpotCheck)
        };
        assert_eq!(
            field(apply(&closed, &actor(R::FireOfficer), &no_note, now())),
            "note"
        );
    }

    #[test]
    fn deadlines_move_cases_one_level_up() {
        let past = Some(now() - chrono::Duration::minutes(1));
        let mut c = case(S::Open, L::Group, Severity::General, false);
        assert_eq!(expire(&c, now()), None, "no deadline, nothing due");
        c.deadline = Some(now() + chrono::Duration::minutes(1));
        assert_eq!(expire(&c, now()), None, "not yet due");
        for (from, to) in [
            (L::Group, L::Village),
            (L::Village, L::Township),
            (L::Township, L::Police),
        ] {
            let c = CaseState {
                level: from,
                deadline: past,
                ..c.clone()
            };
            let fx = expire(&c, now()).unwrap();
            assert_eq!((fx.level, fx.deadline), (Some(to), Some(None)), "{from}");
        }
        let blocked = CaseState {
            level: L::Township,
            deadline: past,
            has_police_station: false,
            ..c.clone()
        };
        let fx = expire(&blocked, now()).unwrap();
        assert_eq!((fx.level, fx.deadline, fx.stalled), (None, None, true));
        assert_eq!(fx.notify, Some(Notify::NoPoliceStation));
        let listed = CaseState {
            level: L::Police,
            deadline: past,
            supervision_listed: true,
            ..c.clone()
        };
        let fx = expire(&listed, now()).unwrap();
        assert_eq!((fx.level, fx.supervision_overdue), (None, Some(true)));
        let flagged = CaseState {
            supervision_overdue: true,
            ..listed
        };
        assert_eq!(expire(&flagged, now()), None, "flagged once");
        let closed = CaseState {
            status: S::AwaitingReview,
            deadline: past,
            ..c
        };
        assert_eq!(expire(&closed, now()), None);
    }

    fn public(status: Status, level: Level) -> CaseState {
        CaseState {
            public: true,
            ..case(status, level, Severity::General, false)
        }
    }

    #[test]
    fn verification_opens_a_public_report_at_village_or_group() {
        let pending = public(S::PendingVerification, L::Village);
        let fx = apply(&pending, &actor(R::VillageCadre), &req(A::Verify), now()).unwrap();
        assert_eq!(
            (fx.status, fx.level, fx.first_response, fx.notify),
            (
                Some(S::Open),
                Some(L::Village),
                true,
                Some(Notify::ArrivedAtLevel)
            )
        );
        let to_group = ActionRequest {
            to_level: Some(L::Group),
            ..req(A::Verify)
        };
        let fx = apply(&pending, &actor(R::TownshipOfficial), &to_group, now()).unwrap();
        assert_eq!(fx.level, Some(L::Group));
        let too_high = ActionRequest {
            to_level: Some(L::Township),
            ..req(A::Verify)
        };
        assert_eq!(
            field(apply(&pending, &actor(R::VillageCadre), &too_high, now())),
            "to_level"
        );
        // Grid staff see the report but do not verify it.
        assert_eq!(
            outcome(check(&pending, &actor(R::GridLeader), A::Verify)),
            "403"
        );
        let open = public(S::Open, L::Village);
        assert_eq!(
            outcome(check(&open, &actor(R::VillageCadre), A::Verify)),
            "409"
        );
    }

    #[test]
    fn rejecting_a_public_report_tells_the_reporter_why() {
        let pending = public(S::PendingVerification, L::Village);
        assert_eq!(
            field(apply(
                &pending,
                &actor(R::VillageCadre),
                &req(A::RejectReport),
                now()
            )),
            "public_reason"
        );
        let reject = ActionRequest {
            public_reason: Some("经核实，现场未发现火灾隐患".into()),
            ..req(A::RejectReport)
        };
        let fx = apply(&pending, &actor(R::VillagePolice), &reject, now()).unwrap();
        assert_eq!(
            (fx.status, fx.outcome, fx.closed, fx.first_response),
            (
                Some(S::Rejected),
                Some(Some(Outcome::Unfounded)),
                Some(true),
                true
            )
        );
        assert_eq!(
            fx.public_reply.as_deref(),
            Some("经核实，现场未发现火灾隐患")
        );
        // A staff case has no reporter to tell: `reason` as before, `public_reason` refused.
        let staff = case(S::Open, L::Group, Severity::General, false);
        assert_eq!(
            field(apply(&staff, &actor(R::VillageCadre), &reject, now())),
            "reason"
        );
        let both = ActionRequest {
            reason: Some("重复".into()),
            ..reject.clone()
        };
        assert_eq!(
            field(apply(&staff, &actor(R::VillageCadre), &both, now())),
            "public_reason"
        );
        let fx = apply(
            &staff,
            &actor(R::VillageCadre),
            &ActionRequest {
                reason: Some("重复".into()),
                ..req(A::RejectReport)
            },
            now(),
        )
        .unwrap();
        assert!(!fx.first_response && fx.public_reply.is_none());
    }

    #[test]
    fn a_duplicate_is_closed_naming_the_original() {
        let pending = public(S::PendingVerification, L::Village);
        let dup = ActionRequest {
            public_reason: Some("该隐患已在处理中".into()),
            duplicate_of: Some(41),
            ..req(A::RejectReport)
        };
        let fx = apply(&pending, &actor(R::VillageCadre), &dup, now()).unwrap();
        assert_eq!(
            (fx.status, fx.outcome, fx.duplicate_of, fx.closed),
            (
                Some(S::Closed),
                Some(Some(Outcome::Duplicate)),
                Some(Some(41)),
                Some(true)
            )
        );
    }

    #[test]
    fn public_replies_at_any_status_only_on_public_reports() {
        for &status in S::ALL {
            let c = public(status, L::Township);
            let reply = ActionRequest {
                text: Some("已安排人员核查".into()),
                ..req(A::ReplyPublic)
            };
            let fx = apply(&c, &actor(R::TownshipOfficial), &reply, now()).unwrap();
            assert_eq!(
                (fx.status, fx.first_response, fx.public_reply.as_deref()),
                (None, true, Some("已安排人员核查")),
                "{status}"
            );
            assert_eq!(
                field(apply(
                    &c,
                    &actor(R::GridLeader),
                    &req(A::ReplyPublic),
                    now()
                )),
                "text"
            );
        }
        let staff = case(S::Open, L::Group, Severity::General, false);
        assert_eq!(
            outcome(check(&staff, &actor(R::GridLeader), A::ReplyPublic)),
            "409"
        );
        assert_eq!(
            outcome(check(
                &public(S::Open, L::Group),
                &actor(R::Admin),
                A::ReplyPublic
            )),
            "403"
        );
    }
}
