//! Tracking codes and secrets of public reports (查询码 / 凭证).
//!
//! Both are Crockford base32 (digits and capitals without I, L, O, U), so that a hotline
//! operator can read them to a caller and a caller can type them back: a reader's `O` is taken
//! as `0`, `I` and `L` as `1`, and hyphens, spaces and case are ignored. The tracking code (10
//! characters, 50 bits) names the report; the secret (16 characters, 80 bits, shown in groups of
//! four) proves ownership and is kept only as its SHA-256.

use rand::Rng;
use sha2::{Digest, Sha256};

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
pub const CODE_LEN: usize = 10;
pub const SECRET_LEN: usize = 16;

fn random(len: usize) -> String {
    let mut rng = rand::rngs::OsRng;
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..32)] as char)
        .collect()
}

/// A fresh tracking code, e.g. `7K3M9Q2XHD`.
pub fn tracking_code() -> String {
    random(CODE_LEN)
}

/// A fresh secret, e.g. `4F8T-K2MZ-Q9XR-7H3D`.
pub fn secret() -> String {
    let raw = random(SECRET_LEN);
    raw.as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("-")
}

/// What a person typed, in canonical form; `None` when it cannot be Crockford base32 of `len`
/// characters.
pub fn normalize(typed: &str, len: usize) -> Option<String> {
    let mut out = String::with_capacity(len);
    for c in typed.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c if c.is_ascii() && ALPHABET.contains(&(c as u8)) => c,
            _ => return None,
        };
        out.push(c);
    }
    (out.len() == len).then_some(out)
}

/// The stored form of a secret (the secret is random, 80 bits: a fast hash suffices).
pub fn hash_secret(typed: &str) -> Option<String> {
    let canonical = normalize(typed, SECRET_LEN)?;
    Some(hex::encode(Sha256::digest(canonical.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_crockford_and_read_back_forgivingly() {
        let code = tracking_code();
        assert_eq!(code.len(), CODE_LEN);
        assert!(code.bytes().all(|b| ALPHABET.contains(&b)));
        assert!(!code.contains(['I', 'L', 'O', 'U']));
        assert_eq!(normalize("7k3m-9q2x hd", 10).as_deref(), Some("7K3M9Q2XHD"));
        assert_eq!(normalize("O1IL", 4).as_deref(), Some("0111"));
        assert_eq!(normalize("7K3M9Q2XH", 10), None, "too short");
        assert_eq!(normalize("7K3M9Q2XHU", 10), None, "U is not Crockford");
        assert_eq!(normalize("举报码", 3), None);
    }

    #[test]
    fn a_secret_hashes_the_same_however_it_is_typed() {
        let s = secret();
        assert_eq!(s.len(), SECRET_LEN + 3);
        let h = hash_secret(&s).unwrap();
        assert_eq!(
            hash_secret(&s.to_lowercase().replace('-', " ")),
            Some(h.clone())
        );
        assert_ne!(hash_secret(&secret()), Some(h));
        assert_eq!(hash_secret("short"), None);
    }
}
