//! Reading the CSV into typed rows; every problem is reported with its line and column.

use std::collections::HashMap;

use crate::auth::roles::{Background, Role};
use crate::error::FieldError;
use crate::import::line_error;
use crate::organizations::model::OrgKind;
use crate::premises::model::{PremisesCategory, PremisesInput, ValidPremises};
use crate::regions::model::RegionLevel;
use crate::validate::Checks;

/// Every column the format knows.
pub const COLUMNS: &[&str] = &[
    "kind",
    "level",
    "code",
    "parent_code",
    "name",
    "supervisor",
    "org_kind",
    "region_code",
    "jurisdiction",
    "username",
    "display_name",
    "phone",
    "role",
    "organization",
    "title",
    "background",
    "category",
    "address",
    "lat",
    "lng",
    "contact_name",
    "contact_phone",
    "signage",
];

const KINDS: &[(&str, &[&str])] = &[
    ("region", &["level", "code", "name"]),
    ("organization", &["org_kind", "name", "region_code"]),
    ("person", &["username", "display_name", "region_code"]),
    ("premises", &["region_code", "name", "category", "address"]),
];

#[derive(Debug, Clone)]
pub enum Row {
    Region {
        line: u64,
        level: RegionLevel,
        code: String,
        parent_code: Option<String>,
        name: String,
        supervisor: Option<String>,
    },
    Organization {
        line: u64,
        kind: OrgKind,
        name: String,
        region_code: String,
        /// `None` when the cell is empty: leave the jurisdiction as it is.
        jurisdiction: Option<Vec<String>>,
    },
    Person {
        line: u64,
        username: String,
        display_name: String,
        phone: Option<String>,
        region_code: String,
        role: Option<Role>,
        organization: Option<String>,
        title: Option<String>,
        background: Option<Background>,
    },
    Premises {
        line: u64,
        region_code: String,
        premises: ValidPremises,
    },
}

impl Row {
    pub fn line(&self) -> u64 {
        match self {
            Row::Region { line, .. }
            | Row::Organization { line, .. }
            | Row::Person { line, .. }
            | Row::Premises { line, .. } => *line,
        }
    }
}

fn not_utf8(bytes: &[u8], e: std::str::Utf8Error) -> FieldError {
    let line = bytes[..e.valid_up_to()]
        .iter()
        .filter(|b| **b == b'\n')
        .count() as u64
        + 1;
    line_error(
        line,
        "file",
        "the file is not UTF-8 (an Excel export in GBK/GB18030?); save it as \"CSV UTF-8\" and try again",
    )
}

/// One record's cells by column name.
struct Cells<'r> {
    line: u64,
    map: &'r HashMap<&'static str, usize>,
    record: &'r csv::StringRecord,
    checks: Checks,
}

impl<'r> Cells<'r> {
    fn get(&self, col: &str) -> Option<&'r str> {
        self.map
            .get(col)
            .and_then(|i| self.record.get(*i))
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// A required cell, checked by `check` when present ("is required" alone when not).
    fn checked(&mut self, col: &str, check: impl FnOnce(&mut Checks, &str) -> String) -> String {
        match self.get(col) {
            Some(v) => check(&mut self.checks, v),
            None => {
                self.checks.fail(col, "is required");
                String::new()
            }
        }
    }

    fn req(&mut self, col: &str) -> &'r str {
        match self.get(col) {
            Some(v) => v,
            None => {
                self.checks.fail(col, "is required");
                ""
            }
        }
    }

    fn vocab<T>(
        &mut self,
        col: &str,
        value: Option<&str>,
        parse: fn(&str) -> Option<T>,
        all: &[&str],
    ) -> Option<T> {
        let v = value?;
        let parsed = parse(v);
        if parsed.is_none() {
            self.checks.fail(
                col,
                format!("unknown value '{v}'; one of: {}", all.join(", ")),
            );
        }
        parsed
    }

    fn number(&mut self, col: &str) -> Option<f64> {
        let v = self.get(col)?;
        match v.parse::<f64>() {
            Ok(n) if n.is_finite() => Some(n),
            _ => {
                self.checks.fail(col, format!("'{v}' is not a number"));
                None
            }
        }
    }

    fn flag(&mut self, col: &str) -> bool {
        match self.get(col).map(str::to_lowercase).as_deref() {
            None | Some("false" | "0" | "no" | "n" | "否") => false,
            Some("true" | "1" | "yes" | "y" | "是") => true,
            Some(v) => {
                self.checks
                    .fail(col, format!("'{v}' is not true/false (是/否)"));
                false
            }
        }
    }

    /// Moves the collected field errors into `errors` with this line's number.
    fn finish(self, errors: &mut Vec<FieldError>) -> bool {
        match self.checks.finish() {
            Ok(()) => true,
            Err(e) => {
                errors.extend(
                    e.errors
                        .into_iter()
                        .map(|f| line_error(self.line, &f.field, f.message)),
                );
                false
            }
        }
    }
}

fn names<T: Copy>(all: &[T], f: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|x| f(*x)).collect()
}

/// Parses the whole file; all errors at once, or typed rows in file order.
pub fn parse(bytes: &[u8]) -> Result<Vec<Row>, Vec<FieldError>> {
    let text = std::str::from_utf8(bytes).map_err(|e| vec![not_utf8(bytes, e)])?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Some(at) = crate::http::controls::first_forbidden(text) {
        let line = text[..at].matches('\n').count() as u64 + 1;
        return Err(vec![line_error(
            line,
            "file",
            crate::http::controls::MESSAGE,
        )]);
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());

    let mut errors = Vec::new();
    let header = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            return Err(vec![line_error(
                1,
                "file",
                format!("cannot read the header: {e}"),
            )])
        }
    };
    let header_line = reader.position().line().saturating_sub(1).max(1);
    let mut map: HashMap<&'static str, usize> = HashMap::new();
    for (i, raw) in header.iter().enumerate() {
        let name = raw.trim().trim_start_matches('\u{feff}').to_lowercase();
        match COLUMNS.iter().find(|c| **c == name) {
            Some(c) if map.contains_key(c) => {
                errors.push(line_error(header_line, c, "the column appears twice"))
            }
            Some(c) => {
                map.insert(c, i);
            }
            None if name.is_empty() => {}
            None => errors.push(line_error(
                header_line,
                &name,
                format!("unknown column; the columns are: {}", COLUMNS.join(", ")),
            )),
        }
    }
    if !map.contains_key("kind") {
        errors.push(line_error(
            header_line,
            "kind",
            "the header has no kind column",
        ));
        return Err(errors);
    }

    let mut rows = Vec::new();
    let mut missing_reported: Vec<&str> = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                errors.push(line_error(line, "file", format!("not valid CSV: {e}")));
                if !matches!(e.kind(), csv::ErrorKind::UnequalLengths { .. }) {
                    break;
                }
                continue;
            }
        }
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if record.len() > header.len() {
            errors.push(line_error(
                line,
                "file",
                format!(
                    "{} cells, but the header has {}",
                    record.len(),
                    header.len()
                ),
            ));
            continue;
        }
        let mut cells = Cells {
            line,
            map: &map,
            record: &record,
            checks: Checks::new(),
        };
        let kind = cells.get("kind").unwrap_or("");
        let Some((kind, required)) = KINDS.iter().find(|(k, _)| *k == kind) else {
            errors.push(line_error(
                line,
                "kind",
                format!("'{kind}' is not one of: region, organization, person, premises"),
            ));
            continue;
        };
        if let Some(col) = required.iter().find(|c| !map.contains_key(*c)) {
            if !missing_reported.contains(col) {
                missing_reported.push(col);
                errors.push(line_error(
                    header_line,
                    col,
                    format!("the column is missing (needed by {kind} rows)"),
                ));
            }
            continue;
        }
        if let Some(row) = parse_row(kind, &mut cells) {
            if cells.finish(&mut errors) {
                rows.push(row);
            }
        } else {
            cells.finish(&mut errors);
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

fn parse_row(kind: &str, c: &mut Cells<'_>) -> Option<Row> {
    let line = c.line;
    match kind {
        "region" => {
            let level = c.get("level");
            let level = c.vocab(
                "level",
                level,
                RegionLevel::parse,
                &names(RegionLevel::ALL, RegionLevel::as_str),
            );
            if c.get("level").is_none() {
                c.req("level");
            }
            let code = c.checked("code", |k, v| k.code("code", v));
            let name = c.checked("name", |k, v| k.name("name", v, 64));
            let parent_code = c
                .get("parent_code")
                .map(|p| c.checks.code("parent_code", p));
            let supervisor = c
                .get("supervisor")
                .map(|u| c.checks.username("supervisor", u));
            Some(Row::Region {
                line,
                level: level?,
                code,
                parent_code,
                name,
                supervisor,
            })
        }
        "organization" => {
            let kind = c.req("org_kind");
            let kind = c.vocab(
                "org_kind",
                Some(kind).filter(|k| !k.is_empty()),
                OrgKind::parse,
                &names(OrgKind::ALL, OrgKind::as_str),
            );
            let name = c.checked("name", |k, v| k.name("name", v, 64));
            let region_code = c.req("region_code").to_string();
            let jurisdiction = c.get("jurisdiction").map(|j| {
                let mut codes: Vec<String> = j
                    .split([';', '；'])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                codes.sort();
                codes.dedup();
                codes
            });
            Some(Row::Organization {
                line,
                kind: kind?,
                name,
                region_code,
                jurisdiction,
            })
        }
        "person" => {
            let username = c.checked("username", |k, v| k.username("username", v));
            let display_name = c.checked("display_name", |k, v| k.name("display_name", v, 64));
            let phone = c.get("phone").map(|p| c.checks.phone("phone", p));
            let region_code = c.req("region_code").to_string();
            let role = c.get("role");
            let role = c.vocab("role", role, Role::parse, &names(Role::ALL, Role::as_str));
            let bad_role = c.get("role").is_some() && role.is_none();
            let organization = c
                .get("organization")
                .map(|o| c.checks.name("organization", o, 64));
            let title = c.get("title").map(|t| c.checks.name("title", t, 32));
            let background = c.get("background");
            let background = c.vocab(
                "background",
                background,
                Background::parse,
                &names(Background::ALL, Background::as_str),
            );
            if bad_role {
                return None;
            }
            Some(Row::Person {
                line,
                username,
                display_name,
                phone,
                region_code,
                role,
                organization,
                title,
                background,
            })
        }
        _ => {
            let region_code = c.req("region_code").to_string();
            let category = c.req("category");
            let category = c.vocab(
                "category",
                Some(category).filter(|k| !k.is_empty()),
                PremisesCategory::parse,
                &names(PremisesCategory::ALL, PremisesCategory::as_str),
            );
            let (lat, lng) = (c.number("lat"), c.number("lng"));
            let signage = c.flag("signage");
            let input = PremisesInput {
                name: c.get("name").unwrap_or(""),
                category: category.unwrap_or(PremisesCategory::Other),
                address: c.get("address").unwrap_or(""),
                lat,
                lng,
                contact_name: c.get("contact_name"),
                contact_phone: c.get("contact_phone"),
                signage,
            };
            let premises = input.validate(&mut c.checks);
            category?;
            Some(Row::Premises {
                line,
                region_code,
                premises,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(e: &[FieldError]) -> Vec<String> {
        e.iter().map(|f| f.field.clone()).collect()
    }

    #[test]
    fn bom_comments_and_any_column_order() {
        let csv = "\u{feff}name,kind,code,level,parent_code\n# 湟中区\n湟中区,region,630106,county,\n李家山镇,region,630106101,township,630106\n";
        let rows = parse(csv.as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
        match &rows[1] {
            Row::Region {
                line,
                level,
                parent_code,
                name,
                ..
            } => {
                assert_eq!(
                    (*line, *level, parent_code.as_deref(), name.as_str()),
                    (4, RegionLevel::Township, Some("630106"), "李家山镇")
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_bad_line_is_reported_with_its_column() {
        let csv = "kind,level,code,name,username,display_name,region_code,role\n\
                   region,city,1,甲,,,,\n\
                   region,village,1 2,,,,,\n\
                   region,village,,,,,,\n\
                   person,,,,ab,张三,1,captain\n\
                   shop,,,,,,,\n";
        let errs = parse(csv.as_bytes()).unwrap_err();
        assert_eq!(
            fields(&errs),
            [
                "line 2: level",
                "line 3: code",
                "line 3: name",
                "line 4: code",
                "line 4: name",
                "line 5: username",
                "line 5: role",
                "line 6: kind"
            ]
        );
    }

    #[test]
    fn missing_columns_unknown_columns_and_encoding() {
        let errs = parse(b"kind,code,level,colour\nregion,1,county,red\n").unwrap_err();
        assert_eq!(fields(&errs), ["line 1: colour", "line 1: name"]);
        let errs = parse(b"code,level,name\n1,county,x\n").unwrap_err();
        assert_eq!(fields(&errs), ["line 1: kind"]);
        // "湟中区" in GBK.
        let gbk = b"kind,level,code,name\nregion,county,1,\xe4\xd2\xd6\xd0\xc7\xf8\n";
        let errs = parse(gbk).unwrap_err();
        assert_eq!(fields(&errs), ["line 2: file"]);
    }

    #[test]
    fn premises_rows() {
        let csv = "kind,region_code,name,category,address,lat,lng,signage\n\
                   premises,g1,小卖部,shop,一组1号,36.5,101.6,是\n\
                   premises,g1,网吧,internet_cafe,一组2号,95,101.6,maybe\n";
        let errs = parse(csv.as_bytes()).unwrap_err();
        assert_eq!(fields(&errs), ["line 3: signage", "line 3: lat"]);
        let ok = parse(&csv.as_bytes()[..csv.find("premises,g1,网吧").unwrap()]).unwrap();
        match &ok[0] {
            Row::Premises { premises, .. } => {
                assert!(premises.signage && premises.location == Some((36.5, 101.6)))
            }
            other => panic!("{other:?}"),
        }
    }
}
