//! Field checks shared by the request types: trimmed names, codes, usernames.

use crate::error::FieldError;

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

    /// A trimmed name of 1..=max characters (Chinese counts one per character).
    pub fn name(&mut self, field: &str, value: &str, max: usize) -> String {
        let v = value.trim();
        let n = v.chars().count();
        if n == 0 {
            self.fail(field, "must not be empty");
        } else if n > max {
            self.fail(field, format!("must be at most {max} characters"));
        } else if v.chars().any(char::is_control) {
            self.fail(field, "must not contain control characters");
        }
        v.to_string()
    }

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
        let err = c.finish().unwrap_err();
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "title", "code", "username", "phone"]);
    }
}
