//! Case numbers (立案编号): `<county code>-<year>-<seq>`, consecutive per county and year and
//! never reused (SPEC §5), also under concurrent reporting.
//!
//! The number comes from the county's counter row, updated in the reporting transaction: a
//! report that rolls back gives its number back, so no number is skipped. The row is locked from
//! that update until the commit, so when it is taken decides how long reports of one county wait
//! for each other:
//!
//! - **SQLite** has one writer at a time anyway (the group-commit writer thread), so the number
//!   is taken when the case is inserted.
//! - **PostgreSQL** runs reports side by side. The case is inserted under a provisional number
//!   (unique, never visible outside the transaction), and its event, notifications and outbox
//!   entry are written with it; `Unnumbered::number`, the report's last write, then takes the
//!   counter, renumbers the case and rewrites the provisional number in those texts in one
//!   statement. Reports of one county overlap everything but that statement and the commit.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Text};

use crate::db::schema::case_counters;
use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::hazards::store::HazardRow;
use crate::notifications::store::Sent;
use crate::per_backend;

/// A case just inserted, whose number may still be provisional. `number` must be the last write
/// of the report (see the module's doc); it gives the row with its final number.
#[must_use = "a case keeps a provisional number until `number` is called"]
pub struct Unnumbered {
    row: HazardRow,
    pending: Option<Pending>,
}

/// What PostgreSQL's final statement needs.
pub(crate) struct Pending {
    county_id: i64,
    year: i32,
    /// `<county code>-<year>-`, the number's prefix.
    prefix: String,
}

/// The number to insert a new case with: final on SQLite, provisional on PostgreSQL.
pub(crate) enum Reserved {
    Final(String),
    Provisional { case_no: String, pending: Pending },
}

impl Reserved {
    pub(crate) fn case_no(&self) -> &str {
        match self {
            Reserved::Final(n) | Reserved::Provisional { case_no: n, .. } => n,
        }
    }

    /// The inserted row, to be numbered by the report's last write.
    pub(crate) fn inserted(self, row: HazardRow) -> Unnumbered {
        Unnumbered {
            row,
            pending: match self {
                Reserved::Final(_) => None,
                Reserved::Provisional { pending, .. } => Some(pending),
            },
        }
    }
}

/// The number a new case of this county is inserted with.
pub(crate) fn reserve(
    conn: &mut DbConn,
    county_id: i64,
    county_code: &str,
    year: i32,
) -> AppResult<Reserved> {
    let prefix = format!("{county_code}-{year}-");
    if !matches!(conn, DbConn::Pg(_)) {
        let seq = next_seq(conn, county_id, year)?;
        return Ok(Reserved::Final(format!("{prefix}{seq:06}")));
    }
    // A final number has only digits after the prefix; `~` and 64 random bits make this one
    // unique (the column is) without touching the counter.
    Ok(Reserved::Provisional {
        case_no: format!("{prefix}~{:016x}", rand::random::<u64>()),
        pending: Pending {
            county_id,
            year,
            prefix,
        },
    })
}

impl Unnumbered {
    /// The case as inserted (its number may be provisional: do not show or store it).
    pub fn row(&self) -> &HazardRow {
        &self.row
    }

    /// Gives the case its final number: on PostgreSQL takes the county's counter, renumbers the
    /// case and rewrites the provisional number in the notifications and outbox events `told`
    /// about it, in one statement; on SQLite the number already is final.
    pub fn number(self, conn: &mut DbConn, told: &Sent) -> AppResult<HazardRow> {
        let Unnumbered { mut row, pending } = self;
        let Some(p) = pending else {
            return Ok(row);
        };
        let DbConn::Pg(pg) = conn else {
            return Err(AppError::internal(
                "a provisional case number outside PostgreSQL",
            ));
        };
        #[derive(QueryableByName)]
        struct Numbered {
            #[diesel(sql_type = Text)]
            case_no: String,
        }
        // One statement, so the counter row is locked for it and the commit only. The number is
        // the sequence padded to six digits (more when a county passes 999,999 in a year).
        let numbered: Numbered = diesel::sql_query(
            "WITH n AS (
                INSERT INTO case_counters (county_id, year, last_seq) VALUES ($1, $2, 1)
                ON CONFLICT (county_id, year) DO UPDATE SET last_seq = case_counters.last_seq + 1
                RETURNING last_seq
             ), h AS (
                UPDATE hazards SET case_no = $3 || CASE WHEN n.last_seq < 1000000
                    THEN lpad(n.last_seq::text, 6, '0') ELSE n.last_seq::text END
                FROM n WHERE hazards.id = $4 RETURNING hazards.case_no
             ), m AS (
                UPDATE notifications SET message = replace(notifications.message, $5, h.case_no)
                FROM h WHERE notifications.id = ANY($6)
             ), o AS (
                UPDATE notification_outbox
                SET message = replace(notification_outbox.message, $5, h.case_no),
                    subject = replace(notification_outbox.subject, $5, h.case_no)
                FROM h WHERE notification_outbox.id = ANY($7)
             )
             SELECT case_no FROM h",
        )
        .bind::<BigInt, _>(p.county_id)
        .bind::<Integer, _>(p.year)
        .bind::<Text, _>(&p.prefix)
        .bind::<BigInt, _>(row.id)
        .bind::<Text, _>(&row.case_no)
        .bind::<Array<BigInt>, _>(&told.notifications)
        .bind::<Array<BigInt>, _>(&told.outbox)
        .get_result(pg)?;
        row.case_no = numbered.case_no;
        Ok(row)
    }
}

/// The next sequence number of a county and year, counted in the caller's transaction.
fn next_seq(conn: &mut DbConn, county_id: i64, year: i32) -> AppResult<i64> {
    let bump = |conn: &mut DbConn| -> AppResult<Option<i64>> {
        // Built per backend, so that SQLite keeps it prepared (see `events::store`).
        let update = diesel::update(case_counters::table.find((county_id, year)))
            .set(case_counters::last_seq.eq(case_counters::last_seq + 1));
        Ok(per_backend!(conn, |c| update
            .returning(case_counters::last_seq)
            .get_result(c)
            .optional())?)
    };
    if let Some(seq) = bump(conn)? {
        return Ok(seq);
    }
    // First case of the year. A concurrent first report may insert the row first: the savepoint
    // keeps our transaction usable, and the update then takes the next number.
    let inserted = conn.transaction(|c| {
        diesel::insert_into(case_counters::table)
            .values((
                case_counters::county_id.eq(county_id),
                case_counters::year.eq(year),
                case_counters::last_seq.eq(1i64),
            ))
            .execute(c)
    });
    match inserted {
        Ok(_) => Ok(1),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => bump(conn)?.ok_or_else(|| AppError::internal("case counter vanished")),
        Err(e) => Err(e.into()),
    }
}
