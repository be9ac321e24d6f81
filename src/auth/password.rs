//! Password hashing (argon2id at OWASP's parameters, PHC strings) and the password policy.

use std::sync::OnceLock;

use argon2::{Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier};

use crate::error::{AppError, AppResult};

pub const MIN_LEN: usize = 10;
pub const MAX_LEN: usize = 256;

/// Hashes with argon2id, m = 19456 KiB, t = 2, p = 1 (the crate's defaults are OWASP's).
pub fn hash(password: &str) -> AppResult<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal("hashing failed").caused_by(e))
}

#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    /// Correct; `needs_rehash` when it was hashed with other parameters than today's.
    Correct {
        needs_rehash: bool,
    },
    Wrong,
}

pub fn verify(password: &str, phc: &str) -> Verified {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return Verified::Wrong;
    };
    if Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_err()
    {
        return Verified::Wrong;
    }
    let current = Params::default();
    let needs_rehash = parsed.algorithm != argon2::ARGON2ID_IDENT
        || Params::try_from(&parsed).map_or(true, |p| {
            (p.m_cost(), p.t_cost(), p.p_cost())
                != (current.m_cost(), current.t_cost(), current.p_cost())
        });
    Verified::Correct { needs_rehash }
}

/// Spends the same time as a real verification, so an unknown username cannot be told apart
/// from a wrong password by the response time.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash("firegrid-dummy-password").unwrap_or_default());
    let _ = verify(password, phc);
}

/// The most common passwords of at least `MIN_LEN` characters (shorter ones fail on length).
const COMMON: &str = include_str!("common-passwords.txt");

/// Checks the policy; the message is meant for the `errors[].message` of a 422.
pub fn check_policy(password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_LEN {
        return Err(format!("must be at least {MIN_LEN} characters"));
    }
    if chars > MAX_LEN {
        return Err(format!("must be at most {MAX_LEN} characters"));
    }
    let lower = password.to_lowercase();
    if COMMON
        .lines()
        .map(str::trim)
        .any(|c| !c.is_empty() && c == lower)
    {
        return Err("is one of the most common passwords; choose another".into());
    }
    Ok(())
}

/// A random password for generated accounts (first start), 20 characters.
pub fn random_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_argon2id_with_owasp_parameters_and_verifies() {
        let h = hash("湟中区李家山镇-2026").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert_eq!(
            verify("湟中区李家山镇-2026", &h),
            Verified::Correct {
                needs_rehash: false
            }
        );
        assert_eq!(verify("wrong-password", &h), Verified::Wrong);
        assert_eq!(verify("x", "not a phc string"), Verified::Wrong);
    }

    #[test]
    fn weaker_parameters_ask_for_a_rehash() {
        let weak = Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            Params::new(8192, 1, 1, None).unwrap(),
        );
        let h = weak
            .hash_password(b"correct horse battery")
            .unwrap()
            .to_string();
        assert_eq!(
            verify("correct horse battery", &h),
            Verified::Correct { needs_rehash: true }
        );
    }

    #[test]
    fn policy() {
        assert!(check_policy("short").is_err());
        assert!(check_policy("1234567890").is_err());
        assert!(check_policy("Password123").is_err());
        assert!(check_policy("woaini1314").is_err());
        assert!(check_policy("青海湟中李家山消防网格").is_ok());
        assert!(check_policy("tractor-yak-2026").is_ok());
        assert_eq!(random_password().len(), 20);
    }
}
