//! One generated case's story, told through the product's own state machine: every step is
//! `hazards::workflow::apply` (a person's action) or `workflow::expire` (the system's deadline
//! sweep) on the case's current state, by someone holding the role the rules ask for, and the
//! event, the parameters and the final columns are what the machine answers. So generated
//! timelines cannot drift from the rules: a step the rules refuse is a generator bug, reported
//! as an error, never written.
//!
//! A story is first planned (who does what, in which order), then given times spread over its
//! span, then told step by step at those times; deadlines are chosen when told, knowing what
//! comes next (one the system later expires lies before that step, any other one after the
//! last step that depends on it, and one still running lies in the future).

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use rand::rngs::StdRng;
use rand::Rng;

use firegrid::auth::roles::Role;
use firegrid::hazards::model::{
    ActionKind, ActionRequest, Difficulty, Level, Measure, Outcome, Severity, Status,
};
use firegrid::hazards::workflow::{self, Actor, CaseState, Effects};

use crate::gen::pick;

/// Someone who acts: a user id and the one role they act in.
#[derive(Debug, Clone, Copy)]
pub struct Who(pub i64, pub Role);

/// The staff around one case.
pub struct Cast {
    /// Leader, inspector, handler, coordinator of the case's group.
    pub grid: [Who; 4],
    /// The village cadre and the village police officer.
    pub village: [Who; 2],
    pub township: [Who; 2],
    pub police: [Who; 2],
    /// Two of the county's fire officers.
    pub fire: [Who; 2],
}

/// Where the story ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Pending,
    Open,
    Awaiting,
    Closed,
    Rejected,
}

/// What the plan starts from.
pub struct Premise {
    pub public: bool,
    pub severity: Severity,
    pub end: End,
    /// The level the case climbs to (0 group … 3 police).
    pub target_level: usize,
    pub age_days: i64,
    /// Ids of earlier cases of the county (a `duplicate` closure names one of them).
    pub earlier: std::ops::Range<i64>,
    /// For the enforcement document number.
    pub county_code: String,
    pub year: i32,
    pub seq: i64,
}

/// A step of the plan. A story holds a handful: the size of an action request is no matter.
#[allow(clippy::large_enum_variant)]
enum Move {
    Act(Who, ActionRequest),
    /// The system: the deadline passed.
    Expire,
}

/// One timeline event, as `hazards::events` chains it.
pub struct Event {
    pub action: &'static str,
    pub actor: Option<i64>,
    pub from_status: Option<&'static str>,
    pub to_status: &'static str,
    pub from_level: Option<&'static str>,
    pub to_level: &'static str,
    pub params: String,
    pub at: NaiveDateTime,
}

/// The case after its story: the columns the story decides, and the events after the report.
pub struct Told {
    pub state: CaseState,
    pub difficulty: Option<Difficulty>,
    pub outcome: Option<Outcome>,
    pub duplicate_of: Option<i64>,
    pub closed_at: Option<NaiveDateTime>,
    pub last_spot_checked_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
    pub events: Vec<Event>,
}

impl Told {
    /// The machine's effects on the columns, at `at` (as `hazards::store` writes them).
    fn absorb(&mut self, fx: &Effects, at: NaiveDateTime) {
        let s = &mut self.state;
        if let Some(v) = fx.status {
            s.status = v;
        }
        if let Some(v) = fx.level {
            s.level = v;
        }
        if let Some(v) = fx.deadline {
            s.deadline = v;
        }
        if let Some(v) = fx.supervision_listed {
            s.supervision_listed = v;
        }
        if let Some(v) = fx.supervision_overdue {
            s.supervision_overdue = v;
        }
        if let Some(v) = fx.rectification_submitted_by {
            s.rectification_submitted_by = v;
        }
        if let Some(v) = fx.difficulty {
            self.difficulty = Some(v);
        }
        if let Some(v) = fx.outcome {
            self.outcome = v;
        }
        if let Some(v) = fx.duplicate_of {
            self.duplicate_of = v;
        }
        if let Some(closed) = fx.closed {
            self.closed_at = closed.then_some(at);
        }
        if fx.spot_checked {
            self.last_spot_checked_at = Some(at);
        }
        self.updated_at = at;
    }
}

const LEVELS: [Level; 4] = [Level::Group, Level::Village, Level::Township, Level::Police];

/// Who does what, in order (the report itself is not a step).
fn plan(rng: &mut StdRng, p: &Premise, cast: &Cast) -> Vec<Move> {
    use ActionKind as A;
    let (grid, village, township, police, fire) = (
        &cast.grid,
        &cast.village,
        &cast.township,
        &cast.police,
        &cast.fire,
    );
    let major = p.severity == Severity::Major;
    let mut moves = Vec::with_capacity(8);
    let act = |moves: &mut Vec<Move>, who: Who, r: ActionRequest| moves.push(Move::Act(who, r));
    if p.end == End::Pending {
        return moves;
    }
    if p.public {
        if p.end == End::Rejected {
            act(
                &mut moves,
                village[0],
                ActionRequest {
                    reason: Some("核实不属实".into()),
                    ..ActionRequest::new(A::RejectReport)
                },
            );
            return moves;
        }
        act(
            &mut moves,
            village[0],
            ActionRequest {
                note: Some("已现场核实".into()),
                // The story climbs from the group.
                to_level: Some(Level::Group),
                ..ActionRequest::new(A::Verify)
            },
        );
    }
    // Climb to the target level.
    let mut level = 0usize;
    let mut deadline_set = false;
    let mut classified = false;
    let mut listed = false;
    while level < p.target_level {
        if level == 0 && rng.gen_bool(0.7) {
            act(&mut moves, grid[0], ActionRequest::new(A::SetDeadline));
            deadline_set = true;
        }
        if level == 1 && !classified {
            classified = true;
            let d = pick(
                rng,
                &[
                    (Difficulty::Easy, 40),
                    (Difficulty::Moderate, 40),
                    (Difficulty::Hard, 20),
                ],
            );
            act(
                &mut moves,
                village[0],
                ActionRequest {
                    difficulty: Some(d),
                    ..ActionRequest::new(A::Classify)
                },
            );
        }
        if level >= 1 && rng.gen_bool(0.5) {
            let who = if level == 1 { village[0] } else { township[0] };
            act(&mut moves, who, ActionRequest::new(A::SetDeadline));
            deadline_set = true;
        }
        if deadline_set && rng.gen_bool(0.3) {
            moves.push(Move::Expire);
        } else if level == 2 {
            act(
                &mut moves,
                township[0],
                ActionRequest {
                    reason: Some("逾期未整改，移交派出所依法查处".into()),
                    ..ActionRequest::new(A::TransferToPolice)
                },
            );
        } else {
            act(
                &mut moves,
                if level == 0 { grid[0] } else { village[0] },
                ActionRequest {
                    reason: Some("本级无法处置".into()),
                    to_level: Some(LEVELS[level + 1]),
                    ..ActionRequest::new(A::Escalate)
                },
            );
        }
        level += 1;
        deadline_set = false;
    }
    if level == 3 {
        act(
            &mut moves,
            police[0],
            ActionRequest {
                measure: Some(Measure::OrderToRectify),
                document_no: Some(format!(
                    "{}公(消)行罚决字〔{}〕{:04}号",
                    p.county_code, p.year, p.seq
                )),
                ..ActionRequest::new(A::RecordEnforcement)
            },
        );
        if major && rng.gen_bool(0.6) {
            listed = true;
            act(
                &mut moves,
                police[0],
                ActionRequest {
                    reason: Some("重大火灾隐患挂牌督办".into()),
                    ..ActionRequest::new(A::ListForSupervision)
                },
            );
        }
    }
    if rng.gen_bool(0.55) {
        act(
            &mut moves,
            grid[1],
            ActionRequest {
                text: Some("已督促整改".into()),
                ..ActionRequest::new(A::Comment)
            },
        );
    }
    match p.end {
        End::Rejected if level <= 1 => act(
            &mut moves,
            village[0],
            ActionRequest {
                reason: Some("不构成火灾隐患".into()),
                ..ActionRequest::new(A::RejectReport)
            },
        ),
        End::Awaiting | End::Closed => {
            let by = match level {
                0 => grid[2],
                1 => village[1],
                2 => township[1],
                _ => police[1],
            };
            act(
                &mut moves,
                by,
                ActionRequest {
                    note: Some("已整改完毕".into()),
                    attachment_ids: Some(Vec::new()),
                    ..ActionRequest::new(A::SubmitRectification)
                },
            );
            if p.end == End::Closed {
                let reviewer = if major || listed || level >= 2 {
                    fire[0]
                } else if level == 1 {
                    township[0]
                } else {
                    village[0]
                };
                let o = pick(
                    rng,
                    &[
                        (Outcome::Rectified, 85),
                        (Outcome::Unfounded, 10),
                        (Outcome::Duplicate, 5),
                    ],
                );
                let dup = (o == Outcome::Duplicate && !p.earlier.is_empty())
                    .then(|| rng.gen_range(p.earlier.clone()));
                let o = if o == Outcome::Duplicate && dup.is_none() {
                    Outcome::Rectified
                } else {
                    o
                };
                act(
                    &mut moves,
                    reviewer,
                    ActionRequest {
                        outcome: Some(o),
                        duplicate_of: dup,
                        ..ActionRequest::new(A::ApproveClosure)
                    },
                );
                if rng.gen_bool(0.05) {
                    act(
                        &mut moves,
                        fire[1],
                        ActionRequest {
                            passed: Some(true),
                            ..ActionRequest::new(A::SpotCheck)
                        },
                    );
                }
            }
        }
        // Some listed cases ran past the county's deadline: flagged on its board.
        End::Open if listed && p.age_days > 30 && rng.gen_bool(0.3) => moves.push(Move::Expire),
        _ => {}
    }
    moves
}

/// Whether a step ends the life of a running deadline (moves, closes, pauses or replaces it).
fn ends_deadline(m: &Move) -> bool {
    use ActionKind as A;
    match m {
        Move::Expire => true,
        Move::Act(_, r) => matches!(
            r.action,
            A::Escalate
                | A::TransferToPolice
                | A::RejectReport
                | A::SubmitRectification
                | A::ApproveClosure
                | A::SetDeadline
                | A::ListForSupervision
        ),
    }
}

/// The deadline set at step `j` (time `times[j]`), given what follows.
fn deadline_at(
    rng: &mut StdRng,
    moves: &[Move],
    times: &[NaiveDateTime],
    j: usize,
    now: NaiveDateTime,
) -> DateTime<Utc> {
    let t = match moves[j + 1..].iter().position(ends_deadline) {
        // The system expires it: it lies between the two steps.
        Some(k) if matches!(moves[j + 1 + k], Move::Expire) => {
            let next = times[j + 1 + k];
            times[j] + Duration::seconds(((next - times[j]).num_seconds() / 2).max(1))
        }
        // Someone acted before it ran out.
        Some(k) => times[j + 1 + k] + Duration::seconds(rng.gen_range(86_400..7 * 86_400)),
        // Still running: in the future (the sweep would have moved an expired one).
        None => now + Duration::seconds(rng.gen_range(2 * 86_400..30 * 86_400)),
    };
    t.and_utc()
}

/// Plans the story from `created` to at most `span_end`, then tells it through the state
/// machine. `Err` names the refused step (a generator bug).
pub fn tell(
    rng: &mut StdRng,
    p: &Premise,
    cast: &Cast,
    created: NaiveDateTime,
    span_end: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<Told, String> {
    let moves = plan(rng, p, cast);
    // Step times spread over the span, at least two seconds apart (so that a deadline fits
    // between two steps).
    let n = moves.len() as i64 + 1;
    let span = (span_end - created).num_seconds().max(2 * n);
    let mut times: Vec<NaiveDateTime> = (1..n)
        .map(|j| {
            created
                + Duration::seconds(span * j / n)
                + Duration::microseconds(rng.gen_range(0..1_000_000))
        })
        .collect();
    let mut prev = created;
    for t in &mut times {
        if *t < prev + Duration::seconds(2) {
            *t = prev + Duration::seconds(2);
        }
        prev = *t;
    }

    let mut told = Told {
        state: CaseState {
            status: if p.public {
                Status::PendingVerification
            } else {
                Status::Open
            },
            level: Level::Group,
            severity: p.severity,
            supervision_listed: false,
            supervision_overdue: false,
            deadline: None,
            rectification_submitted_by: None,
            // Every generated township has a police station.
            has_police_station: true,
            // Generated public cases have no reporter record (no tracking code, nobody to
            // answer): to the rules they are cases like the others.
            public: false,
        },
        difficulty: None,
        outcome: None,
        duplicate_of: None,
        closed_at: None,
        last_spot_checked_at: None,
        updated_at: created,
        events: Vec::with_capacity(moves.len()),
    };
    for (j, m) in moves.iter().enumerate() {
        let at = times[j];
        let (action, actor, fx) = match m {
            Move::Act(who, r) => {
                let mut r = r.clone();
                if matches!(
                    r.action,
                    ActionKind::SetDeadline | ActionKind::ListForSupervision
                ) {
                    r.deadline = Some(deadline_at(rng, &moves, &times, j, now));
                }
                let actor = Actor {
                    user_id: who.0,
                    roles: vec![who.1],
                    covering: vec![who.1],
                };
                let fx = workflow::apply(&told.state, &actor, &r, at.and_utc()).map_err(|e| {
                    format!(
                        "the rules refuse generated step {} by {} on {:?}: {e:?}",
                        r.action, who.1, told.state
                    )
                })?;
                (r.action.as_str(), Some(who.0), fx)
            }
            Move::Expire => {
                let fx = workflow::expire(&told.state, at.and_utc()).ok_or_else(|| {
                    format!("a generated expiry finds nothing due on {:?}", told.state)
                })?;
                ("deadline_expired", None, fx)
            }
        };
        let (from_status, from_level) = (told.state.status, told.state.level);
        told.absorb(&fx, at);
        told.events.push(Event {
            action,
            actor,
            from_status: Some(from_status.as_str()),
            to_status: told.state.status.as_str(),
            from_level: Some(from_level.as_str()),
            to_level: told.state.level.as_str(),
            params: fx.params.to_string(),
            at,
        });
    }
    Ok(told)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn cast() -> Cast {
        let w = |id, r| Who(id, r);
        Cast {
            grid: [
                w(1, Role::GridLeader),
                w(2, Role::GridInspector),
                w(3, Role::GridHandler),
                w(4, Role::GridCoordinator),
            ],
            village: [w(5, Role::VillageCadre), w(6, Role::VillagePolice)],
            township: [w(7, Role::TownshipOfficial), w(8, Role::TownshipOfficial)],
            police: [w(9, Role::PoliceOfficer), w(10, Role::PoliceOfficer)],
            fire: [w(11, Role::FireOfficer), w(12, Role::FireOfficer)],
        }
    }

    fn premise(rng: &mut StdRng) -> Premise {
        let public = rng.gen_bool(0.3);
        let end = pick(
            rng,
            &[
                (End::Open, 1),
                (End::Awaiting, 1),
                (End::Closed, 1),
                (End::Rejected, 1),
                (End::Pending, u32::from(public)),
            ],
        );
        Premise {
            public,
            severity: if rng.gen_bool(0.3) {
                Severity::Major
            } else {
                Severity::General
            },
            end,
            target_level: if end == End::Rejected {
                rng.gen_range(0..2)
            } else {
                rng.gen_range(0..4)
            },
            age_days: rng.gen_range(0..700),
            earlier: 1..rng.gen_range(1..50),
            county_code: "630106".into(),
            year: 2026,
            seq: 7,
        }
    }

    #[test]
    fn every_generated_story_is_one_the_rules_accept() {
        let mut rng = StdRng::seed_from_u64(11);
        let now = firegrid::db::now();
        for _ in 0..5000 {
            let p = premise(&mut rng);
            let created = now - Duration::days(p.age_days) - Duration::minutes(11);
            let span_end = (created + Duration::days(30)).min(now - Duration::minutes(10));
            let told = tell(&mut rng, &p, &cast(), created, span_end, now)
                .unwrap_or_else(|e| panic!("{e}"));
            let s = &told.state;
            let want = match p.end {
                End::Pending => Status::PendingVerification,
                End::Open => Status::Open,
                End::Awaiting => Status::AwaitingReview,
                End::Closed => Status::Closed,
                End::Rejected => Status::Rejected,
            };
            assert_eq!(s.status, want);
            if matches!(p.end, End::Open | End::Awaiting | End::Closed) {
                assert_eq!(s.level, LEVELS[p.target_level]);
            }
            // What the server's sweep would still move: nothing.
            assert_eq!(workflow::expire(s, now.and_utc()), None, "{s:?}");
            assert_eq!(
                told.closed_at.is_some(),
                matches!(want, Status::Closed | Status::Rejected)
            );
            let mut at = created;
            for e in &told.events {
                assert!(e.at > at && e.at < now, "steps in order, in the past");
                at = e.at;
            }
        }
    }

    #[test]
    fn a_step_the_rules_refuse_stops_the_generator() {
        let mut rng = StdRng::seed_from_u64(3);
        // The "village cadre" is a grid inspector: verifying a public report is not theirs.
        let mut wrong = cast();
        wrong.village[0] = Who(5, Role::GridInspector);
        let p = Premise {
            public: true,
            end: End::Open,
            target_level: 0,
            ..premise(&mut rng)
        };
        let now = firegrid::db::now();
        let created = now - Duration::days(3);
        let err = tell(
            &mut rng,
            &p,
            &wrong,
            created,
            now - Duration::minutes(10),
            now,
        )
        .err()
        .expect("refused");
        assert!(
            err.contains("the rules refuse generated step verify"),
            "{err}"
        );
    }
}
