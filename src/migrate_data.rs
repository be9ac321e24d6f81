//! `firegrid migrate-data --from FILE --to postgres://…` (数据迁移): moves a county that started on
//! the embedded SQLite file onto PostgreSQL (issue 15).
//!
//! The tables are discovered, not listed here: the SQLite file and the migrated PostgreSQL
//! database must hold the same tables with the same columns (a table or column on one side only
//! stops the move, naming it), and the order of the copy comes from PostgreSQL's foreign keys,
//! which are the constraints the inserts must satisfy. A cycle of references (a region's
//! supervisor is a user; a user's home is a region) is broken at a nullable column: those
//! columns are inserted empty and filled in once every table is there. Self-references (a
//! region's parent) are handled the same way, so the order of rows inside a table never matters.
//!
//! Rows travel as JSON: SQLite renders each row with `json_object` (reals with 17 significant
//! digits, so that every double comes back bit for bit; blobs as `\x` hex), PostgreSQL parses
//! each batch with `json_populate_recordset` into the table's own column types.
//!
//! Everything happens in one PostgreSQL transaction, inside one read transaction on the SQLite
//! file (a consistent snapshot): the rows, the sequences (`setval` past the largest id), the
//! case counters (never behind a case number already issued), the photo copy, and the checks —
//! row counts per table on both sides, `audit verify` on both sides, every photo a row names
//! present in the target directory. Only then does it commit: a failure anywhere leaves the
//! target as empty as it was, and the command can simply be run again.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Text};
use diesel::sqlite::SqliteConnection;

use crate::db::{self, Backend, DbConn};
use crate::error::CommandError;

/// Rows per INSERT: one JSON document of this many rows per statement.
const BATCH_ROWS: usize = 1000;
/// SQLite's `json_object` takes at most 127 arguments in older builds: wider rows are built
/// from several objects merged with `json_patch`.
const COLUMNS_PER_OBJECT: usize = 50;
/// diesel's own bookkeeping: each side keeps its own migration history.
const MIGRATIONS_TABLE: &str = "__diesel_schema_migrations";

/// What was moved and checked.
#[derive(Debug, Default)]
pub struct Report {
    /// Every table in copy order, with its row count (equal on both sides).
    pub tables: Vec<(String, i64)>,
    /// Columns inserted empty and filled in afterwards, `table.column`.
    pub deferred: Vec<String>,
    /// Sequences set past the largest id.
    pub sequences: usize,
    /// Photo files copied (0 when the photos stay where they are).
    pub photos_copied: u64,
    /// Photos that rows refer to, each found in the target photo directory.
    pub photos_checked: u64,
    /// Events whose hash chain verified, the same number on both sides.
    pub events_verified: u64,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (table, n) in &self.tables {
            writeln!(f, "{table:<28} {n:>10} rows (equal on both sides)")?;
        }
        if !self.deferred.is_empty() {
            writeln!(
                f,
                "filled in after the insert: {}",
                self.deferred.join(", ")
            )?;
        }
        writeln!(f, "{} sequences set past the largest id", self.sequences)?;
        writeln!(
            f,
            "{} photos referenced, all present in the target ({} copied)",
            self.photos_checked, self.photos_copied
        )?;
        write!(
            f,
            "audit verify: {} events, every hash chain intact on SQLite and on PostgreSQL",
            self.events_verified
        )
    }
}

/// Where the photos are and where they go.
pub struct Photos<'a> {
    /// The SQLite deployment's data directory (its `attachments/`).
    pub from: &'a Path,
    /// The PostgreSQL deployment's data directory; `None` when the new servers use `from`.
    pub to: Option<&'a Path>,
}

/// `firegrid migrate-data`: see the module documentation.
pub fn migrate_data(from: &Path, to: &str, photos: Photos<'_>) -> Result<Report, CommandError> {
    if Backend::of_url(to) != Backend::Postgres {
        return Err(CommandError::new(format!(
            "--to must be a PostgreSQL URL (postgres://…), not {to}"
        )));
    }
    if !from.is_file() {
        return Err(CommandError::new(format!(
            "{} is not a SQLite database file",
            from.display()
        )));
    }
    let mut target = PgConnection::establish(to)
        .map_err(|e| CommandError::caused_by("cannot connect to the target PostgreSQL", e))?;
    // Refuse before the migrations: they too would change a database that is not ours to fill.
    refuse_unless_empty(&mut target)?;
    let mut target = DbConn::Pg(target);
    db::run_migrations(&mut target)?;

    let mut source = open_sqlite(from)?;
    db::run_migrations(&mut source)?;

    let (tables, deferred) = {
        let (DbConn::Sqlite(s), DbConn::Pg(t)) = (&mut source, &mut target) else {
            unreachable!("opened as SQLite and PostgreSQL")
        };
        let tables = compare_schemas(s, t)?;
        plan_order(tables, &foreign_keys(t)?)?
    };

    source.transaction(|source| {
        target.transaction(|target| copy_and_check(source, target, &tables, &deferred, &photos))
    })
}

fn open_sqlite(path: &Path) -> Result<DbConn, CommandError> {
    let url = path.to_string_lossy();
    let mut c = SqliteConnection::establish(&url)
        .map_err(|e| CommandError::caused_by(format!("cannot open {url}"), e))?;
    c.batch_execute("PRAGMA busy_timeout = 30000; PRAGMA foreign_keys = ON;")
        .map_err(|e| CommandError::caused_by(format!("cannot open {url}"), e))?;
    Ok(DbConn::Sqlite(c))
}

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Json {
    #[diesel(sql_type = Text)]
    row: String,
}

/// The base tables of the target's schema, without diesel's migration history.
fn pg_tables(conn: &mut PgConnection) -> Result<Vec<String>, CommandError> {
    let names: Vec<Name> = diesel::sql_query(
        "SELECT table_name::text AS name FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
         ORDER BY table_name",
    )
    .load(conn)
    .map_err(|e| CommandError::caused_by("cannot list the target's tables", e))?;
    Ok(names
        .into_iter()
        .map(|n| n.name)
        .filter(|n| n != MIGRATIONS_TABLE)
        .collect())
}

fn pg_count(conn: &mut PgConnection, table: &str) -> Result<i64, CommandError> {
    diesel::sql_query(format!("SELECT count(*) AS n FROM {}", ident(table)))
        .get_result::<Count>(conn)
        .map(|c| c.n)
        .map_err(|e| CommandError::caused_by(format!("cannot count {table} in the target"), e))
}

fn sqlite_count(conn: &mut SqliteConnection, table: &str) -> Result<i64, CommandError> {
    diesel::sql_query(format!("SELECT count(*) AS n FROM {}", ident(table)))
        .get_result::<Count>(conn)
        .map(|c| c.n)
        .map_err(|e| CommandError::caused_by(format!("cannot count {table} in the source"), e))
}

/// Refuses a target that holds any row (a migrated but empty database, or one with no tables
/// at all, is accepted).
fn refuse_unless_empty(conn: &mut PgConnection) -> Result<(), CommandError> {
    let mut held = Vec::new();
    for table in pg_tables(conn)? {
        let n = pg_count(conn, &table)?;
        if n > 0 {
            held.push(format!("{table} ({n} rows)"));
        }
    }
    if held.is_empty() {
        return Ok(());
    }
    Err(CommandError::new(format!(
        "refusing to migrate into a PostgreSQL database that is not empty: {}. \
         migrate-data only fills a new, empty database (createdb a fresh one); \
         nothing was changed",
        held.join(", ")
    )))
}

/// A table as both sides agree it is.
#[derive(Debug)]
struct Table {
    name: String,
    columns: Vec<String>,
    primary_key: Vec<String>,
}

#[derive(QueryableByName)]
struct SqliteColumn {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Integer)]
    pk: i32,
}

/// The tables of the source, checked against the target: the same tables, the same columns.
fn compare_schemas(
    source: &mut SqliteConnection,
    target: &mut PgConnection,
) -> Result<BTreeMap<String, Table>, CommandError> {
    let names: Vec<Name> = diesel::sql_query(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         ORDER BY name",
    )
    .load(source)
    .map_err(|e| CommandError::caused_by("cannot list the source's tables", e))?;
    let in_source: BTreeSet<String> = names
        .into_iter()
        .map(|n| n.name)
        .filter(|n| n != MIGRATIONS_TABLE)
        .collect();
    let in_target: BTreeSet<String> = pg_tables(target)?.into_iter().collect();
    let mut problems = Vec::new();
    for t in in_source.difference(&in_target) {
        problems.push(format!(
            "table {t} is in the SQLite file but not in PostgreSQL"
        ));
    }
    for t in in_target.difference(&in_source) {
        problems.push(format!(
            "table {t} is in PostgreSQL but not in the SQLite file"
        ));
    }
    let mut tables = BTreeMap::new();
    for name in in_source.intersection(&in_target) {
        let cols: Vec<SqliteColumn> =
            diesel::sql_query("SELECT name, pk FROM pragma_table_info(?) ORDER BY cid")
                .bind::<Text, _>(name)
                .load(source)
                .map_err(|e| CommandError::caused_by(format!("cannot read {name}'s columns"), e))?;
        let pg_cols: Vec<Name> = diesel::sql_query(
            "SELECT column_name::text AS name FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1",
        )
        .bind::<Text, _>(name)
        .load(target)
        .map_err(|e| CommandError::caused_by(format!("cannot read {name}'s columns"), e))?;
        let a: BTreeSet<&str> = cols.iter().map(|c| c.name.as_str()).collect();
        let b: BTreeSet<&str> = pg_cols.iter().map(|c| c.name.as_str()).collect();
        for c in a.difference(&b) {
            problems.push(format!("column {name}.{c} is in the SQLite file only"));
        }
        for c in b.difference(&a) {
            problems.push(format!("column {name}.{c} is in PostgreSQL only"));
        }
        let mut pk: Vec<&SqliteColumn> = cols.iter().filter(|c| c.pk > 0).collect();
        pk.sort_by_key(|c| c.pk);
        tables.insert(
            name.clone(),
            Table {
                name: name.clone(),
                primary_key: pk.iter().map(|c| c.name.clone()).collect(),
                columns: cols.into_iter().map(|c| c.name).collect(),
            },
        );
    }
    if !problems.is_empty() {
        return Err(CommandError::new(format!(
            "the SQLite file and the PostgreSQL database do not have the same tables \
             (are both at this version's migrations?): {}",
            problems.join("; ")
        )));
    }
    Ok(tables)
}

/// One column of a foreign key in the target.
#[derive(QueryableByName, Debug, Clone)]
struct ForeignKey {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    references: String,
    #[diesel(sql_type = Bool)]
    nullable: bool,
}

fn foreign_keys(conn: &mut PgConnection) -> Result<Vec<ForeignKey>, CommandError> {
    diesel::sql_query(
        "SELECT src.relname::text AS table_name, a.attname::text AS column_name, \
                dst.relname::text AS references, NOT a.attnotnull AS nullable \
         FROM pg_constraint c \
         JOIN pg_class src ON src.oid = c.conrelid \
         JOIN pg_class dst ON dst.oid = c.confrelid \
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) \
         WHERE c.contype = 'f' AND src.relnamespace = current_schema()::regnamespace \
         ORDER BY 1, 2",
    )
    .load(conn)
    .map_err(|e| CommandError::caused_by("cannot read the target's foreign keys", e))
}

/// Orders `tables` so that every table comes after the tables it refers to, with the
/// columns (per table) that must be inserted empty and filled in afterwards: self-references,
/// and one nullable reference per cycle. Fails when a cycle has no nullable column to break it.
type Deferred = BTreeMap<String, Vec<String>>;

fn plan_order(
    mut tables: BTreeMap<String, Table>,
    fks: &[ForeignKey],
) -> Result<(Vec<Table>, Deferred), CommandError> {
    let mut deferred: BTreeMap<String, Vec<String>> = BTreeMap::new();
    // (table, referenced table) -> its columns, with whether each is nullable.
    let mut edges: BTreeMap<(String, String), Vec<(String, bool)>> = BTreeMap::new();
    for fk in fks {
        if !tables.contains_key(&fk.table_name) || !tables.contains_key(&fk.references) {
            continue;
        }
        if fk.table_name == fk.references {
            if !fk.nullable {
                return Err(CommandError::new(format!(
                    "{}.{} refers to its own table and is NOT NULL: no insert order exists",
                    fk.table_name, fk.column_name
                )));
            }
            deferred
                .entry(fk.table_name.clone())
                .or_default()
                .push(fk.column_name.clone());
            continue;
        }
        edges
            .entry((fk.table_name.clone(), fk.references.clone()))
            .or_default()
            .push((fk.column_name.clone(), fk.nullable));
    }
    let mut remaining: BTreeSet<String> = tables.keys().cloned().collect();
    let mut order = Vec::new();
    while !remaining.is_empty() {
        let ready: Vec<String> = remaining
            .iter()
            .filter(|t| {
                !edges
                    .keys()
                    .any(|(from, to)| from == *t && remaining.contains(to))
            })
            .cloned()
            .collect();
        if !ready.is_empty() {
            for t in ready {
                remaining.remove(&t);
                order.push(t);
            }
            continue;
        }
        // A cycle: break it at the first reference on a cycle whose columns are all nullable.
        let reaches = |start: &str, goal: &str| {
            let mut seen = BTreeSet::new();
            let mut stack = vec![start.to_string()];
            while let Some(t) = stack.pop() {
                if t == goal {
                    return true;
                }
                if seen.insert(t.clone()) {
                    stack.extend(
                        edges
                            .keys()
                            .filter(|(from, to)| *from == t && remaining.contains(to))
                            .map(|(_, to)| to.clone()),
                    );
                }
            }
            false
        };
        let breakable = edges
            .iter()
            .find(|((from, to), cols)| {
                remaining.contains(from)
                    && remaining.contains(to)
                    && cols.iter().all(|c| c.1)
                    && reaches(to, from)
            })
            .map(|(k, _)| k.clone());
        let Some(key) = breakable else {
            return Err(CommandError::new(format!(
                "the tables {} refer to each other through NOT NULL columns only: no insert \
                 order exists",
                remaining.iter().cloned().collect::<Vec<_>>().join(", ")
            )));
        };
        let cols = edges.remove(&key).unwrap_or_default();
        deferred
            .entry(key.0)
            .or_default()
            .extend(cols.into_iter().map(|c| c.0));
    }
    for (table, cols) in &deferred {
        if tables[table].primary_key.is_empty() {
            return Err(CommandError::new(format!(
                "{table} has no primary key, so its columns {} cannot be filled in after \
                 the insert",
                cols.join(", ")
            )));
        }
    }
    let ordered = order
        .iter()
        .filter_map(|name| tables.remove(name))
        .collect();
    Ok((ordered, deferred))
}

/// The SQLite expression rendering `columns` of one row as a JSON object: reals with every
/// significant digit, blobs as PostgreSQL's `\x` hex, everything else as stored.
fn json_row(columns: &[String]) -> String {
    let value = |c: &String| {
        let c = ident(c);
        format!(
            "CASE typeof({c}) WHEN 'real' THEN printf('%!.17g', {c}) \
             WHEN 'blob' THEN '\\x' || hex({c}) ELSE {c} END"
        )
    };
    let objects: Vec<String> = columns
        .chunks(COLUMNS_PER_OBJECT)
        .map(|chunk| {
            let args: Vec<String> = chunk
                .iter()
                .map(|c| format!("'{}', {}", c.replace('\'', "''"), value(c)))
                .collect();
            format!("json_object({})", args.join(", "))
        })
        .collect();
    objects
        .into_iter()
        .reduce(|a, b| format!("json_patch({a}, {b})"))
        .unwrap_or_else(|| "json_object()".to_string())
}

/// Streams the JSON rows of `select` from the source and runs `statement` on the target once
/// per batch, with the batch (a JSON array) as `$1`.
fn pour(
    source: &mut SqliteConnection,
    target: &mut PgConnection,
    select: String,
    statement: &str,
    failed: &str,
) -> Result<(), CommandError> {
    let rows = diesel::sql_query(&select)
        .load_iter::<Json, diesel::connection::DefaultLoadingMode>(source)
        .map_err(|e| CommandError::caused_by("cannot read the source", e))?;
    let mut batch = Vec::with_capacity(BATCH_ROWS);
    let mut rows = rows.peekable();
    while let Some(row) = rows.next() {
        let row = row.map_err(|e| CommandError::caused_by("cannot read the source", e))?;
        batch.push(row.row);
        if batch.len() == BATCH_ROWS || rows.peek().is_none() {
            diesel::sql_query(statement)
                .bind::<Text, _>(format!("[{}]", batch.join(",")))
                .execute(target)
                .map_err(|e| CommandError::caused_by(failed.to_string(), e))?;
            batch.clear();
        }
    }
    Ok(())
}

/// Inserts every row of `table`, leaving its `deferred` columns empty.
fn copy_table(
    (source, target): (&mut SqliteConnection, &mut PgConnection),
    table: &Table,
    deferred: &[String],
) -> Result<(), CommandError> {
    let name = ident(&table.name);
    let columns: Vec<String> = table.columns.iter().map(|c| ident(c)).collect();
    let values: Vec<String> = table
        .columns
        .iter()
        .map(|c| {
            if deferred.contains(c) {
                "NULL".to_string()
            } else {
                ident(c)
            }
        })
        .collect();
    let insert = format!(
        "INSERT INTO {name} ({}) SELECT {} FROM json_populate_recordset(NULL::{name}, $1::json)",
        columns.join(", "),
        values.join(", ")
    );
    let select = format!("SELECT {} AS row FROM {name}", json_row(&table.columns));
    let failed = format!("cannot insert into {}", table.name);
    pour(source, target, select, &insert, &failed)
}

/// Fills in the columns inserted empty, matching rows by primary key.
fn fill_deferred(
    (source, target): (&mut SqliteConnection, &mut PgConnection),
    table: &Table,
    cols: &[String],
) -> Result<(), CommandError> {
    let deferred = cols;
    let name = ident(&table.name);
    let sets: Vec<String> = deferred
        .iter()
        .map(|c| format!("{0} = v.{0}", ident(c)))
        .collect();
    let keys: Vec<String> = table
        .primary_key
        .iter()
        .map(|c| format!("t.{0} = v.{0}", ident(c)))
        .collect();
    let update = format!(
        "UPDATE {name} AS t SET {} FROM json_populate_recordset(NULL::{name}, $1::json) AS v \
         WHERE {}",
        sets.join(", "),
        keys.join(" AND ")
    );
    let mut cols = table.primary_key.clone();
    cols.extend(deferred.iter().cloned());
    let any_set: Vec<String> = deferred
        .iter()
        .map(|c| format!("{} IS NOT NULL", ident(c)))
        .collect();
    let select = format!(
        "SELECT {} AS row FROM {name} WHERE {}",
        json_row(&cols),
        any_set.join(" OR ")
    );
    let failed = format!("cannot fill in {}", table.name);
    pour(source, target, select, &update, &failed)
}

#[derive(QueryableByName)]
struct Sequence {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    sequence: String,
}

/// Sets every sequence that feeds a column (BIGSERIAL ids) past the largest value copied, so
/// the next insert does not collide with a copied row.
fn set_sequences(target: &mut PgConnection) -> Result<usize, CommandError> {
    let sequences: Vec<Sequence> = diesel::sql_query(
        "SELECT table_name::text AS table_name, column_name::text AS column_name, \
                pg_get_serial_sequence(quote_ident(table_name), column_name) AS sequence \
         FROM information_schema.columns WHERE table_schema = current_schema() \
           AND pg_get_serial_sequence(quote_ident(table_name), column_name) IS NOT NULL",
    )
    .load(target)
    .map_err(|e| CommandError::caused_by("cannot list the target's sequences", e))?;
    for s in &sequences {
        diesel::sql_query(format!(
            "SELECT setval($1, COALESCE((SELECT max({}) FROM {}), 0) + 1, false)",
            ident(&s.column_name),
            ident(&s.table_name)
        ))
        .bind::<Text, _>(&s.sequence)
        .execute(target)
        .map_err(|e| CommandError::caused_by(format!("cannot set {}", s.sequence), e))?;
    }
    Ok(sequences.len())
}

/// Case numbers (`<county code>-<year>-<sequence>`) come from `case_counters`: the copied
/// counters are raised, should any lag, to the largest number already issued in their county
/// and year, so that no number is ever issued twice.
fn raise_case_counters(target: &mut PgConnection) -> Result<(), CommandError> {
    diesel::sql_query(
        r"INSERT INTO case_counters (county_id, year, last_seq)
          SELECT county_id, m[1]::int, max(m[2]::bigint)
          FROM (SELECT county_id, regexp_match(case_no, '-(\d{4})-(\d+)$') AS m FROM hazards) c
          WHERE m IS NOT NULL GROUP BY county_id, m[1]
          ON CONFLICT (county_id, year)
          DO UPDATE SET last_seq = GREATEST(case_counters.last_seq, EXCLUDED.last_seq)",
    )
    .execute(target)
    .map(|_| ())
    .map_err(|e| CommandError::caused_by("cannot set the case counters", e))
}

/// Copies the photos unless they stay where they are, then checks that every photo a row
/// names is in the target directory. Returns (copied, checked).
fn move_photos(target: &mut DbConn, photos: &Photos<'_>) -> Result<(u64, u64), CommandError> {
    use crate::db::schema::attachments;
    let dir = photos.to.unwrap_or(photos.from);
    let copied = match photos.to {
        Some(to) if !same_dir(photos.from, to) => crate::backup::copy_photos(
            &photos.from.join(crate::backup::PHOTOS_DIR),
            &to.join(crate::backup::PHOTOS_DIR),
        )?,
        _ => 0,
    };
    let hashes: Vec<String> = attachments::table
        .select(attachments::sha256)
        .distinct()
        .load(target)
        .map_err(|e| CommandError::caused_by("cannot list the photos", e))?;
    let missing: Vec<&String> = hashes
        .iter()
        .filter(|h| !crate::attachments::store::blob_path(dir, h).is_file())
        .collect();
    if let Some(first) = missing.first() {
        return Err(CommandError::new(format!(
            "{} photo(s) named by the database are not in {} (the first: {first}); is the \
             SQLite deployment's data directory (--data-dir / FIREGRID_DATA_DIR) right?",
            missing.len(),
            dir.join(crate::backup::PHOTOS_DIR).display()
        )));
    }
    Ok((copied, hashes.len() as u64))
}

fn same_dir(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| PathBuf::from(p));
    canon(a) == canon(b)
}

fn copy_and_check(
    source: &mut DbConn,
    target: &mut DbConn,
    tables: &[Table],
    deferred: &Deferred,
    photos: &Photos<'_>,
) -> Result<Report, CommandError> {
    let mut report = Report::default();
    {
        let (DbConn::Sqlite(s), DbConn::Pg(t)) = (&mut *source, &mut *target) else {
            unreachable!("opened as SQLite and PostgreSQL")
        };
        // A second migrate-data, or a server started too early, must not fill it meanwhile.
        t.batch_execute("SELECT pg_advisory_xact_lock(7242001515)")
            .map_err(|e| CommandError::caused_by("cannot lock the target", e))?;
        refuse_unless_empty(t)?;
        // The offline-sync log is copied as it is (phones keep their cursors), so the triggers
        // that write it stay off while the rows it already records arrive (in this transaction).
        crate::sync::store::pg_log_triggers(t, false)?;
        let none = Vec::new();
        for table in tables {
            let cols = deferred.get(&table.name).unwrap_or(&none);
            copy_table((s, t), table, cols)?;
        }
        for table in tables {
            if let Some(cols) = deferred.get(&table.name) {
                fill_deferred((s, t), table, cols)?;
                report
                    .deferred
                    .extend(cols.iter().map(|c| format!("{}.{c}", table.name)));
            }
        }
        crate::sync::store::pg_log_triggers(t, true)?;
        report.sequences = set_sequences(t)?;
        raise_case_counters(t)?;
        let mut differ = Vec::new();
        for table in tables {
            let (a, b) = (sqlite_count(s, &table.name)?, pg_count(t, &table.name)?);
            if a != b {
                differ.push(format!("{}: {a} in SQLite, {b} in PostgreSQL", table.name));
            }
            report.tables.push((table.name.clone(), b));
        }
        if !differ.is_empty() {
            return Err(CommandError::new(format!(
                "row counts differ after the copy: {}",
                differ.join("; ")
            )));
        }
    }
    let verify = |conn: &mut DbConn, side: &str| -> Result<u64, CommandError> {
        let (checked, broken) = crate::hazards::events::verify_all(conn)?;
        if let Some(b) = broken.first() {
            return Err(CommandError::new(format!(
                "audit verify on {side}: {} case timeline(s) broken (the first: case {} at \
                 event {}: {})",
                broken.len(),
                b.hazard_id,
                b.seq,
                b.reason
            )));
        }
        Ok(checked)
    };
    let (a, b) = (verify(source, "SQLite")?, verify(target, "PostgreSQL")?);
    if a != b {
        return Err(CommandError::new(format!(
            "audit verify checked {a} events on SQLite but {b} on PostgreSQL"
        )));
    }
    report.events_verified = b;
    (report.photos_copied, report.photos_checked) = move_photos(target, photos)?;
    Ok(report)
}
