//! Access tokens (short-lived HS256 JWTs, algorithm pinned, `typ` and token version checked) and
//! refresh tokens (random, stored only as SHA-256, rotated on every use).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult};

pub const ACCESS_TYP: &str = "access";
/// Clock skew tolerated between servers and phones' replays.
pub const LEEWAY_SECS: u64 = 5;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub typ: String,
    /// The user's token version when issued; a password change bumps it.
    pub ver: i32,
    /// The login session (refresh-token family); logout or reuse detection revokes it.
    pub sid: String,
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenKeys {
    pub fn new(secret: &[u8]) -> TokenKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    pub fn issue(
        &self,
        user_id: i64,
        token_version: i32,
        session_id: &str,
        ttl_secs: i64,
    ) -> AppResult<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user_id.to_string(),
            iat: now,
            exp: now + ttl_secs,
            jti: uuid::Uuid::new_v4().to_string(),
            typ: ACCESS_TYP.to_string(),
            ver: token_version,
            sid: session_id.to_string(),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AppError::internal("cannot sign token").caused_by(e))
    }

    /// Checks signature, algorithm, expiry and type. Whether the user, version and session are
    /// still good is the caller's (database) check.
    pub fn verify(&self, token: &str) -> AppResult<Claims> {
        let data = decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| AppError::unauthenticated("the access token is invalid or expired"))?;
        if data.claims.typ != ACCESS_TYP {
            return Err(AppError::unauthenticated("not an access token"));
        }
        Ok(data.claims)
    }
}

/// A new refresh token: 256 random bits, URL-safe.
pub fn new_refresh_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database keeps of a refresh token.
pub fn hash_refresh_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn round_trip() {
        let keys = TokenKeys::new(SECRET);
        let t = keys.issue(7, 3, "s1", 900).unwrap();
        let c = keys.verify(&t).unwrap();
        assert_eq!(
            (c.sub.as_str(), c.ver, c.sid.as_str(), c.typ.as_str()),
            ("7", 3, "s1", "access")
        );
    }

    #[test]
    fn wrong_key_tampered_expired_and_none_are_refused() {
        let keys = TokenKeys::new(SECRET);
        let other = TokenKeys::new(b"another-secret-another-secret-xx");
        let t = other.issue(7, 1, "s", 900).unwrap();
        assert!(keys.verify(&t).is_err());

        let t = keys.issue(7, 1, "s", 900).unwrap();
        let mut parts: Vec<String> = t.split('.').map(String::from).collect();
        let mut payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
        payload["sub"] = "1".into();
        parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
        assert!(keys.verify(&parts.join(".")).is_err());

        // Expired beyond the 5 s leeway.
        let t = keys.issue(7, 1, "s", -10).unwrap();
        assert!(keys.verify(&t).is_err());

        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let none = format!("{header}.{}.", parts[1]);
        assert!(keys.verify(&none).is_err());
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let a = new_refresh_token();
        assert_ne!(a, new_refresh_token());
        assert_eq!(hash_refresh_token(&a).len(), 64);
        assert_ne!(hash_refresh_token(&a), a);
    }
}
