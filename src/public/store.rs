//! Public reports in the database: taking one in (web form, hotline, walk-in, Open311), the
//! reporter's view by tracking code and secret, and the first-response bookkeeping that the
//! case workflow's effects drive.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::auth::principal::Principal;
use crate::db::schema::{hazard_events, public_reports, regions};
use crate::db::DbConn;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::hazards::model::{Level, Outcome, Severity, Source, Status};
use crate::hazards::store::{self as hazards, CaseInsert, HazardRow};
use crate::hazards::workflow;
use crate::notifications::store as notify;
use crate::public::model::*;
use crate::public::{codes, throttle};
use crate::regions::model::RegionRow;
use crate::regions::store as region_store;
use crate::validate::Checks;
use crate::vocab::{EventAction, NotificationKind, Role};

/// 青政办〔2016〕189号: a first response at the latest within 48 hours.
pub const FIRST_RESPONSE_HOURS: i64 = 48;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = public_reports)]
pub struct ReportRow {
    pub hazard_id: i64,
    pub tracking_code: String,
    pub secret_hash: String,
    pub channel: Channel,
    pub region_id: i64,
    pub village_id: i64,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub recorded_by: Option<i64>,
    pub received_at: NaiveDateTime,
    pub first_response_due: NaiveDateTime,
    pub first_response_at: Option<NaiveDateTime>,
    pub first_response_reminded: bool,
    pub first_response_overdue: bool,
    pub public_reply: Option<String>,
    pub contact_erased_at: Option<NaiveDateTime>,
}

const VERIFIERS: &[Role] = &[
    Role::VillageCadre,
    Role::VillagePolice,
    Role::TownshipOfficial,
    Role::CountyOfficial,
];

impl ReportRow {
    /// Staff who verify the report (village staff and above over it), work it at its level
    /// now, or took it down on the phone see the reporter's contact; nobody else does.
    fn contact_for(&self, case: &HazardRow, p: &Principal) -> bool {
        if self.recorded_by == Some(p.user_id) {
            return true;
        }
        let here = workflow::staff_at(case.level);
        p.assignments
            .iter()
            .filter(|a| a.scope.contains(&case.region_path))
            .any(|a| VERIFIERS.contains(&a.role) || here.contains(&a.role))
    }

    /// What staff see; the contact only when `p` is given and may see it.
    pub fn staff_view(
        self,
        case: &HazardRow,
        p: Option<&Principal>,
        now: NaiveDateTime,
    ) -> PublicReportInfo {
        let show = p.is_some_and(|p| self.contact_for(case, p));
        let erased = self.contact_erased_at.is_some();
        let overdue = self.first_response_overdue
            || (self.first_response_at.is_none() && self.first_response_due < now);
        PublicReportInfo {
            channel: self.channel,
            tracking_code: self.tracking_code,
            received_at: self.received_at.and_utc(),
            first_response_due: self.first_response_due.and_utc(),
            first_response_at: self.first_response_at.map(|t| t.and_utc()),
            first_response_overdue: overdue,
            public_reply: self.public_reply,
            contact: (show && !erased).then_some(Contact {
                name: self.contact_name,
                phone: self.contact_phone,
            }),
            contact_erased: erased,
        }
    }
}

pub fn is_public(conn: &mut DbConn, hazard_id: i64) -> AppResult<bool> {
    let n: i64 = public_reports::table
        .filter(public_reports::hazard_id.eq(hazard_id))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// What a case view adds from other tables: its public report, if a member of the public
/// reported it, and the round (patrol) that found it, if one did.
pub type Companions = (Option<ReportRow>, Option<i64>);

/// The companions of these cases, by case id; cases with neither are absent or hold
/// `(None, None)`.
pub fn for_cases(conn: &mut DbConn, ids: &[i64]) -> AppResult<HashMap<i64, Companions>> {
    use crate::db::schema::{hazards, patrol_hazards};
    // One statement for both optional companions of a case (its public report, the round that
    // found it): the single-case read is the hottest path (tests/caller_cache.rs).
    // `all_columns` because ReportRow is Queryable by position, in the table's order.
    macro_rules! companions {
        ($filter:expr) => {
            hazards::table
                .left_join(public_reports::table)
                .left_join(patrol_hazards::table)
                .filter($filter)
                .select((
                    hazards::id,
                    public_reports::all_columns.nullable(),
                    patrol_hazards::patrol_id.nullable(),
                ))
                .load::<(i64, Option<ReportRow>, Option<i64>)>(conn)?
        };
    }
    let mut out = HashMap::new();
    if let [id] = ids {
        // `= ?` for one case: diesel keeps that statement prepared, while SQLite gets an
        // `IN (…)` list parsed and planned afresh on every request (a three-table join: the
        // largest part of a single-case read's CPU before this).
        let rows = companions!(hazards::id.eq(*id));
        out.extend(rows.into_iter().map(|(id, r, p)| (id, (r, p))));
        return Ok(out);
    }
    for chunk in ids.chunks(1000) {
        let rows = companions!(hazards::id.eq_any(chunk));
        out.extend(rows.into_iter().map(|(id, r, p)| (id, (r, p))));
    }
    Ok(out)
}

/// Staff answered the reporter (verify, reject, reply): the first such answer is the first
/// response; `reply` becomes what the reporter reads. In the action's transaction.
pub fn responded(
    conn: &mut DbConn,
    hazard_id: i64,
    reply: Option<&str>,
    now: NaiveDateTime,
) -> AppResult<()> {
    let row = public_reports::table.find(hazard_id);
    diesel::update(row.filter(public_reports::first_response_at.is_null()))
        .set(public_reports::first_response_at.eq(now))
        .execute(conn)?;
    if let Some(text) = reply {
        diesel::update(row)
            .set(public_reports::public_reply.eq(text))
            .execute(conn)?;
    }
    Ok(())
}

/// Checks a report's fields (422 naming each bad one).
pub fn validate(new: &NewPublicReport) -> AppResult<()> {
    let mut c = Checks::new();
    c.text("description", &new.description, MAX_DESCRIPTION);
    if let Some(a) = &new.address {
        c.name("address", a, 200);
    }
    c.coordinates(new.lat, new.lng);
    if let Some(phone) = &new.contact_phone {
        c.phone("contact_phone", phone);
    }
    if let Some(name) = &new.contact_name {
        c.name("contact_name", name, 50);
    }
    c.finish()
}

/// Where a report lands: the group it names, or for a village the village's first group (the
/// case sits at village level until verified either way). 422 for an unknown region or one
/// that is not a village or group; 404 for one outside any county.
pub fn placement(conn: &mut DbConn, region_id: i64) -> AppResult<(RegionRow, RegionRow)> {
    let region = match region_store::get(conn, region_id) {
        Err(e) if e.code == ErrorCode::NotFound => {
            return Err(AppError::field("region_id", "no such region"))
        }
        other => other?,
    };
    let group = match region.level {
        RegionLevel::Group => region.clone(),
        RegionLevel::Village => regions::table
            .filter(regions::parent_id.eq(region.id))
            .order(regions::id.asc())
            .select(RegionRow::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| {
                AppError::field(
                    "region_id",
                    "this village has no groups yet; name the group",
                )
            })?,
        _ => {
            return Err(AppError::field(
                "region_id",
                "must be a village or a group (small grid)",
            ))
        }
    };
    Ok((region, group))
}

/// A report from outside, without an account (the web form, an Open311 client): counted
/// against the public throttle (429 past it), then taken in like every report. In the caller's
/// transaction, so a refused or failed report rolls its hit back.
pub fn take_public(
    conn: &mut DbConn,
    new: &NewPublicReport,
    channel: Channel,
    address: &str,
    now: NaiveDateTime,
) -> AppResult<(HazardRow, ReportRow, String)> {
    throttle::count(conn, address, new.contact_phone.as_deref(), now)?;
    create(conn, new, channel, None, now)
}

/// A new report: the case (pending verification, at village level), its public record with a
/// fresh tracking code and secret, the first event, and word to the village staff. Returns the
/// case, the record and the secret (shown once). In the caller's transaction.
pub fn create(
    conn: &mut DbConn,
    new: &NewPublicReport,
    channel: Channel,
    recorded_by: Option<i64>,
    now: NaiveDateTime,
) -> AppResult<(HazardRow, ReportRow, String)> {
    let (region, group) = placement(conn, new.region_id)?;
    let (place, county) = hazards::county_of(conn, &group).ok_or_else(AppError::not_found)??;
    let description = new.description.trim();
    let first_line: String = description
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(40)
        .collect();
    let title = format!("群众举报：{first_line}");
    let unnumbered = hazards::insert_case(
        conn,
        &CaseInsert {
            group: &group,
            place,
            county: &county,
            premises_id: None,
            category: new.category,
            severity: Severity::General,
            title: &title,
            description,
            address: new.address.as_deref().map(str::trim),
            lat: new.lat,
            lng: new.lng,
            source: Source::Public,
            reporter: recorded_by,
            status: Status::PendingVerification,
            level: Level::Village,
            found_at: None,
        },
        // The timeline says how it came, never who called.
        serde_json::json!({"channel": channel}),
        now,
    )?;
    let case = unnumbered.row();
    let secret = codes::secret();
    let secret_hash = codes::hash_secret(&secret)
        .ok_or_else(|| AppError::internal("a fresh secret does not read back"))?;
    let phone = new.contact_phone.as_deref().map(str::trim);
    let name = new.contact_name.as_deref().map(str::trim);
    // A tracking code is 50 random bits: a clash is rare, and then another is drawn (inside a
    // savepoint, so the report's transaction goes on).
    let mut tries = 0;
    let report = loop {
        tries += 1;
        let code = codes::tracking_code();
        let insert = conn.transaction(|c| {
            diesel::insert_into(public_reports::table)
                .values((
                    public_reports::hazard_id.eq(case.id),
                    public_reports::tracking_code.eq(&code),
                    public_reports::secret_hash.eq(&secret_hash),
                    public_reports::channel.eq(channel),
                    public_reports::region_id.eq(region.id),
                    public_reports::village_id.eq(place.village_id),
                    public_reports::contact_name.eq(name),
                    public_reports::contact_phone.eq(phone),
                    public_reports::recorded_by.eq(recorded_by),
                    public_reports::received_at.eq(now),
                    public_reports::first_response_due
                        .eq(now + chrono::Duration::hours(FIRST_RESPONSE_HOURS)),
                ))
                .execute(c)
        });
        match insert {
            Ok(_) => break get(conn, case.id)?,
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) if tries < 5 => continue,
            Err(e) => return Err(e.into()),
        }
    };
    // The village verifies: its staff hear of it (never the reporter's contact).
    let recipients = notify::staff(conn, place, workflow::staff_at(Level::Village))?;
    let told = notify::send(
        conn,
        &recipients,
        recorded_by,
        Some(case.id),
        NotificationKind::PublicReport,
        &hazards::staff_message(NotificationKind::PublicReport, case, case.level),
        now,
    )?;
    Ok((unnumbered.number(conn, &told)?, report, secret))
}

fn get(conn: &mut DbConn, hazard_id: i64) -> AppResult<ReportRow> {
    Ok(public_reports::table
        .find(hazard_id)
        .select(ReportRow::as_select())
        .first(conn)?)
}

/// The report behind a tracking code and secret; the same 404 for an unknown code and a wrong
/// secret, so neither can be told apart from outside.
pub fn by_code(conn: &mut DbConn, code: &str, secret: &str) -> AppResult<ReportRow> {
    let (Some(code), Some(hash)) = (
        codes::normalize(code, codes::CODE_LEN),
        codes::hash_secret(secret),
    ) else {
        return Err(AppError::not_found());
    };
    let row: Option<ReportRow> = public_reports::table
        .filter(public_reports::tracking_code.eq(&code))
        .select(ReportRow::as_select())
        .first(conn)
        .optional()?;
    match row {
        Some(r) if constant_time_eq(r.secret_hash.as_bytes(), hash.as_bytes()) => Ok(r),
        _ => Err(AppError::not_found()),
    }
}

/// The report of this case if `secret` is its secret; the same 404 otherwise (a staff case,
/// an unknown one, a wrong secret).
pub fn by_case(conn: &mut DbConn, hazard_id: i64, secret: &str) -> AppResult<ReportRow> {
    let Some(hash) = codes::hash_secret(secret) else {
        return Err(AppError::not_found());
    };
    match public_reports::table
        .find(hazard_id)
        .select(ReportRow::as_select())
        .first(conn)
        .optional()?
    {
        Some(r) if constant_time_eq(r.secret_hash.as_bytes(), hash.as_bytes()) => Ok(r),
        _ => Err(AppError::not_found()),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A new secret for a report (a retried creation whose first answer was lost: the stored
/// answer holds no secret, so the retry gets a fresh one and the unseen first one stops
/// working).
pub fn rotate_secret(conn: &mut DbConn, tracking_code: &str) -> AppResult<String> {
    let secret = codes::secret();
    let hash = codes::hash_secret(&secret)
        .ok_or_else(|| AppError::internal("a fresh secret does not read back"))?;
    diesel::update(public_reports::table.filter(public_reports::tracking_code.eq(tracking_code)))
        .set(public_reports::secret_hash.eq(hash))
        .execute(conn)?;
    Ok(secret)
}

/// Actions after which a verified case counts as being worked on (in progress).
const HANDLING: &[EventAction] = &[
    EventAction::Escalate,
    EventAction::Classify,
    EventAction::SetDeadline,
    EventAction::TransferToPolice,
    EventAction::RecordEnforcement,
    EventAction::ListForSupervision,
    EventAction::SubmitRectification,
    EventAction::RejectClosure,
    EventAction::Reopen,
    EventAction::DeadlineExpired,
];

/// How far duplicates are followed to their original.
const MAX_FOLLOW: usize = 5;

/// What the reporter sees: the status of the case (or, for a report closed as a duplicate, of
/// the original it follows), the latest public reply, and the times. Nothing else.
pub fn public_view(conn: &mut DbConn, report: &ReportRow) -> AppResult<PublicView> {
    let own = hazards::get(conn, report.hazard_id)?;
    let mut followed = own.clone();
    for _ in 0..MAX_FOLLOW {
        match (followed.outcome, followed.duplicate_of) {
            (Some(Outcome::Duplicate), Some(original)) => followed = hazards::get(conn, original)?,
            _ => break,
        }
    }
    let status = match followed.status {
        Status::PendingVerification => PublicStatus::Received,
        Status::Rejected => PublicStatus::Rejected,
        Status::Closed => PublicStatus::Resolved,
        Status::AwaitingReview => PublicStatus::InProgress,
        Status::Open => {
            let worked: i64 = hazard_events::table
                .filter(hazard_events::hazard_id.eq(followed.id))
                .filter(hazard_events::action.eq_any(HANDLING))
                .count()
                .get_result(conn)?;
            if worked > 0 {
                PublicStatus::InProgress
            } else {
                PublicStatus::Verified
            }
        }
    };
    let mut public_reply = report.public_reply.clone();
    if followed.id != own.id {
        // The original's answer to its own reporter speaks for the case too, when newer.
        let original: Option<Option<String>> = public_reports::table
            .find(followed.id)
            .select(public_reports::public_reply)
            .first(conn)
            .optional()?;
        if let Some(Some(reply)) = original {
            public_reply = Some(reply);
        }
    }
    let updated: DateTime<Utc> = own.updated_at.max(followed.updated_at).and_utc();
    Ok(PublicView {
        tracking_code: report.tracking_code.clone(),
        status,
        public_reply,
        received_at: report.received_at.and_utc(),
        first_response_at: report.first_response_at.map(|t| t.and_utc()),
        updated_at: updated,
    })
}
