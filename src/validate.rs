//! Field checks shared by the request types: trimmed names, codes, usernames.
//!
//! The OpenAPI document states each check as a `pattern` (ECMA-262 and Python `re` read these the
//! same way: no `\s`, whose meaning differs between them and from Rust's `trim`), so a client or
//! a fuzzer generated from it sends only what the server accepts. utoipa takes a pattern only as
//! a literal, so the field attributes spell these out; `tests/openapi_drift.rs` fails when a
//! string field of a request carries no pattern or one that is not listed here, and the tests
//! below hold each pattern to the check it describes.

use crate::error::FieldError;

/// Free text (descriptions, notes, passwords): no C0 control but tab, newline and carriage
/// return (`http::controls`).
pub const TEXT: &str = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$";
/// Free text that must not be blank after trimming.
pub const TEXT_NOT_BLANK: &str = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*[^\x00-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x08\x0b\x0c\x0e-\x1f]*$";
/// A name (`Checks::name`): no control character at all, not blank.
pub const NAME: &str = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$";
/// A name, or blank to clear it.
pub const NAME_OR_BLANK: &str = r"^[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$|^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$";
/// An administrative code (`Checks::code`), with the white space `trim` removes around it.
pub const CODE: &str = r"^[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[A-Za-z0-9-]{1,32}[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$";
/// A username (`Checks::username`).
pub const USERNAME: &str = r"^[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[A-Za-z0-9._@-]{3,64}[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$";
/// A phone number (`Checks::phone`).
pub const PHONE: &str = r"^[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*\+?-*([0-9]-*){5,20}[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$";
/// A phone number, or blank to clear it.
pub const PHONE_OR_BLANK: &str = r"^[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(\+?-*([0-9]-*){5,20})?[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$";
/// A shared secret (`Checks::secret`): 16–200 characters, no control character and no white
/// space (it is copied between systems, where either would be mangled).
pub const SECRET: &str =
    r"^[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]{16,200}$";

/// Every pattern the document may carry on a string a client sends.
pub const PATTERNS: &[&str] = &[
    TEXT,
    TEXT_NOT_BLANK,
    NAME,
    NAME_OR_BLANK,
    CODE,
    USERNAME,
    PHONE,
    PHONE_OR_BLANK,
    SECRET,
];

/// Collects field errors; `finish` turns them into one 422.
#[derive(Default)]
pub struct Checks {
    errors: Vec<FieldError>,
}

impl Checks {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    /// A trimmed name of 1..=max characters (Chinese counts one per character). A name is one
    /// line: no control character anywhere, tab and newline included.
    pub fn name(&mut self, field: &str, value: &str, max: usize) -> String {
        let v = value.trim();
        let n = v.chars().count();
        if value.chars().any(char::is_control) {
            self.fail(field, "must not contain control characters");
        } else if n == 0 {
            self.fail(field, "must not be empty");
        } else if n > max {
            self.fail(field, format!("must be at most {max} characters"));
        }
        v.to_string()
    }

    /// A name, or blank to clear it.
    pub const NAME_OR_BLANK: &str = r"^[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$|^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$";
    /// An administrative code: 1–32 ASCII letters, digits or '-'.
    pub fn code(&mut self, field: &str, value: &str) -> String {
        let v = value.trim();
        if v.is_empty() || v.len() > 32 || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            self.fail(field, "must be 1–32 letters, digits or '-'");
        }
        v.to_string()
    }

    /// A username (usually a mobile number): 3–64 of a-z, 0-9, '.', '_', '-', '@'; lowercased.
    pub fn username(&mut self, field: &str, value: &str) -> String {
        let v = value.trim().to_lowercase();
        let ok = (3..=64).contains(&v.len())
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
        if !ok {
            self.fail(
                field,
                "must be 3–64 characters of letters, digits, '.', '_', '-' or '@'",
            );
        }
        v
    }

    /// A phone number: 5–20 digits, optionally with a leading '+' and '-' separators.
    pub fn phone(&mut self, field: &str, value: &str) -> String {
        let v = value.trim();
        let digits = v.chars().filter(char::is_ascii_digit).count();
        let ok = (5..=20).contains(&digits)
            && v.chars()
                .enumerate()
                .all(|(i, c)| c.is_ascii_digit() || c == '-' || (i == 0 && c == '+'));
        if !ok {
            self.fail(field, "must be a phone number of 5–20 digits");
        }
        v.to_string()
    }

    /// WGS-84 coordinates, given both or neither.
    pub fn coordinates(&mut self, lat: Option<f64>, lng: Option<f64>) {
        match (lat, lng) {
            (Some(lat), Some(lng)) => {
                if !(-90.0..=90.0).contains(&lat) {
                    self.fail("lat", "must be between -90 and 90");
                }
                if !(-180.0..=180.0).contains(&lng) {
                    self.fail("lng", "must be between -180 and 180");
                }
            }
            (None, None) => {}
            (Some(_), None) => self.fail("lng", "is required with lat"),
            (None, Some(_)) => self.fail("lat", "is required with lng"),
        }
    }

    /// Free text of 1..=max characters after trimming (a description).
    pub fn text(&mut self, field: &str, value: &str, max: usize) {
        if value.trim().is_empty() {
            self.fail(field, "must not be empty");
        } else if value.chars().count() > max {
            self.fail(field, format!("must be at most {max} characters"));
        }
    }

    /// A secret shared with another system (`SECRET`), taken as given (not trimmed).
    pub fn secret(&mut self, field: &str, value: &str) -> String {
        let n = value.chars().count();
        if !(16..=200).contains(&n) || value.chars().any(|c| c.is_control() || c.is_whitespace()) {
            self.fail(
                field,
                "must be 16–200 characters without spaces or control characters",
            );
        }
        value.to_string()
    }

    pub fn finish(self) -> Result<(), crate::error::AppError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(crate::error::AppError::fields(self.errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_codes_usernames() {
        let mut c = Checks::new();
        assert_eq!(c.name("name", "  李家山镇 ", 64), "李家山镇");
        assert_eq!(c.code("code", "630122101"), "630122101");
        assert_eq!(c.username("username", " 13800000000 "), "13800000000");
        assert!(c.finish().is_ok());

        let mut c = Checks::new();
        c.name("name", "   ", 64);
        c.name("title", &"镇".repeat(65), 64);
        c.code("code", "63 01");
        c.username("username", "ab");
        c.phone("phone", "call me");
        c.name("address", "李家山镇\t1号", 64);
        let err = c.finish().unwrap_err();
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["name", "title", "code", "username", "phone", "address"]
        );
    }

    /// Strings near every edge the checks have: controls of each kind, the white space `trim`
    /// removes (and U+FEFF, which it does not), signs and separators in phone numbers.
    fn corpus() -> Vec<String> {
        let pieces = [
            "",
            " ",
            "李家山镇",
            "a",
            "Ab-3",
            "13800000000",
            "+86-138-0000-0000",
            "0971-1234567",
            "1234",
            "demo.county",
            "x@y_z",
            "--",
            "+",
            "1+2345",
            "\t",
            "\n",
            "\r",
            "\u{0}",
            "\u{1}",
            "\u{b}",
            "\u{c}",
            "\u{1b}",
            "\u{1f}",
            "\u{7f}",
            "\u{85}",
            "\u{9f}",
            "\u{a0}",
            "\u{3000}",
            "\u{feff}",
            "\u{2028}",
            "\u{200b}",
            "é",
            "😍",
        ];
        let mut out = Vec::new();
        for a in pieces {
            for b in pieces {
                out.push(format!("{a}{b}"));
                for c in ["李", "12345", " "] {
                    out.push(format!("{a}{c}{b}"));
                }
            }
        }
        out
    }

    fn agree(pattern: &str, server: impl Fn(&str) -> bool) {
        let re = regex::Regex::new(pattern).unwrap();
        for s in corpus() {
            assert_eq!(
                re.is_match(&s),
                server(&s),
                "pattern {pattern} and the server disagree on {s:?}"
            );
        }
    }

    fn passes(check: impl Fn(&mut Checks, &str)) -> impl Fn(&str) -> bool {
        move |s| {
            let mut c = Checks::new();
            check(&mut c, s);
            c.finish().is_ok()
        }
    }

    #[test]
    fn each_documented_pattern_says_what_its_check_does() {
        let controls_ok = |s: &str| crate::http::controls::first_forbidden(s).is_none();
        agree(TEXT, controls_ok);
        agree(TEXT_NOT_BLANK, |s| controls_ok(s) && !s.trim().is_empty());
        agree(NAME, |s| {
            controls_ok(s) && passes(|c, s| _ = c.name("f", s, 4000))(s)
        });
        agree(NAME_OR_BLANK, |s| {
            controls_ok(s) && (s.trim().is_empty() || passes(|c, s| _ = c.name("f", s, 4000))(s))
        });
        agree(CODE, |s| {
            controls_ok(s) && passes(|c, s| _ = c.code("f", s))(s)
        });
        agree(USERNAME, |s| {
            controls_ok(s) && passes(|c, s| _ = c.username("f", s))(s)
        });
        agree(PHONE, |s| {
            controls_ok(s) && passes(|c, s| _ = c.phone("f", s))(s)
        });
        agree(PHONE_OR_BLANK, |s| {
            controls_ok(s) && (s.trim().is_empty() || passes(|c, s| _ = c.phone("f", s))(s))
        });
        // Secrets are long: the corpus padded to both sides of the length limits.
        let re = regex::Regex::new(SECRET).unwrap();
        let secret_ok = passes(|c, s| _ = c.secret("f", s));
        for s in corpus() {
            for pad in [14, 16, 196, 200] {
                let long = format!("{s}{}", "k".repeat(pad));
                assert_eq!(re.is_match(&long), secret_ok(&long), "SECRET on {long:?}");
            }
        }
    }
}
