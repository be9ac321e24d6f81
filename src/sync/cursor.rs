//! The sync cursor: where in the change log (and, during a first sync, where in the snapshot)
//! a phone stands, for which user and which scope. It is opaque to the phone and signed
//! (HMAC-SHA-256 with a key derived from the JWT secret), so a cursor that was altered, or
//! that another user's phone received, is refused instead of read.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::scope::Scope;
use crate::error::{AppError, AppResult};

type HmacSha256 = Hmac<Sha256>;

/// A position in the change log: every row after (txid, pos) in that order (the derived order
/// compares txid first, then pos: the log's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Position {
    pub txid: i64,
    pub pos: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The user it was issued to.
    pub u: i64,
    /// The change log position the phone has caught up to (for a first sync: where the log
    /// takes over from the snapshot).
    pub l: Position,
    /// The caller's scope when it was issued (fingerprint): a changed scope starts over.
    pub s: String,
    /// During a first sync: the snapshot's next entity (index) and the last id sent of it.
    pub k: Option<(u8, i64)>,
}

/// What a scope is, in a few bytes.
pub fn fingerprint(scope: &Scope) -> String {
    let text = match scope {
        Scope::Global => "*".to_string(),
        Scope::Paths(paths) => paths.join(","),
    };
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}

/// The cursor key: the JWT secret, put to this one use.
pub fn key(jwt_secret: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(jwt_secret).expect("HMAC takes any key length");
    mac.update(b"firegrid sync cursor v1");
    mac.finalize().into_bytes().to_vec()
}

fn mac(key: &[u8], payload: &str) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(payload.as_bytes());
    mac
}

pub fn encode(c: &Cursor, key: &[u8]) -> String {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(c).expect("a cursor serialises"));
    let tag = mac(key, &payload).finalize().into_bytes();
    format!("{payload}.{}", URL_SAFE_NO_PAD.encode(&tag[..16]))
}

/// The cursor, if this server issued it to `user_id`: 422 otherwise.
pub fn decode(s: &str, key: &[u8], user_id: i64) -> AppResult<Cursor> {
    let bad = || AppError::field("cursor", "not a sync cursor this server issued");
    let (payload, tag) = s.split_once('.').ok_or_else(bad)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| bad())?;
    if tag.len() != 16 {
        return Err(bad());
    }
    mac(key, payload)
        .verify_truncated_left(&tag)
        .map_err(|_| bad())?;
    let raw = URL_SAFE_NO_PAD.decode(payload).map_err(|_| bad())?;
    let c: Cursor = serde_json::from_slice(&raw).map_err(|_| bad())?;
    if c.u != user_id {
        return Err(AppError::field(
            "cursor",
            "this cursor belongs to another user: start without one",
        ));
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_only_for_its_user_and_unaltered() {
        let k = key(b"0123456789abcdef0123456789abcdef");
        let c = Cursor {
            u: 7,
            l: Position { txid: 12, pos: 99 },
            s: fingerprint(&Scope::from_paths(vec!["/1/2/".into()])),
            k: Some((2, 40)),
        };
        let s = encode(&c, &k);
        assert_eq!(decode(&s, &k, 7).unwrap(), c);
        let other = decode(&s, &k, 8).unwrap_err();
        assert!(other.detail.contains("another user"));
        assert!(decode(&s, &key(b"another secret, another server!!"), 7).is_err());
        // The same payload with another user id in it is no longer signed.
        let forged = Cursor { u: 8, ..c.clone() };
        let forged_payload = encode(&forged, &k).split_once('.').unwrap().0.to_string();
        let tag = s.split_once('.').unwrap().1;
        assert!(decode(&format!("{forged_payload}.{tag}"), &k, 8).is_err());
        for junk in ["", ".", "abc", "abc.def", &s[..s.len() - 2]] {
            assert!(decode(junk, &k, 7).is_err(), "{junk}");
        }
        assert_ne!(
            fingerprint(&Scope::Global),
            fingerprint(&Scope::from_paths(vec!["/1/".into()]))
        );
    }
}
