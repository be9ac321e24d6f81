//! The tus 1.0.0 headers: what this server speaks and how the request headers are read.

use actix_web::http::header::HeaderMap;
use base64::Engine;

use crate::error::{AppError, AppResult, ErrorCode};

pub const VERSION: &str = "1.0.0";
pub const EXTENSIONS: &str = "creation,expiration,checksum";
pub const CHECKSUM_ALGORITHMS: &str = "sha1,sha256";
/// The body type of a PATCH.
pub const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";
/// Longest Upload-Metadata header kept.
pub const MAX_METADATA: usize = 4096;

pub const TUS_RESUMABLE: &str = "tus-resumable";
pub const UPLOAD_LENGTH: &str = "upload-length";
pub const UPLOAD_OFFSET: &str = "upload-offset";
pub const UPLOAD_METADATA: &str = "upload-metadata";
pub const UPLOAD_EXPIRES: &str = "upload-expires";
pub const UPLOAD_CHECKSUM: &str = "upload-checksum";

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// Every request but OPTIONS names the protocol version; another one is 412.
pub fn check_version(h: &HeaderMap) -> AppResult<()> {
    match header(h, TUS_RESUMABLE) {
        Some(VERSION) => Ok(()),
        other => Err(AppError::new(
            ErrorCode::UnsupportedTusVersion,
            format!(
                "send Tus-Resumable: {VERSION} (got {})",
                other.unwrap_or("none")
            ),
        )),
    }
}

/// A non-negative integer header (Upload-Length, Upload-Offset); 400 when absent or malformed.
pub fn number(h: &HeaderMap, name: &str) -> AppResult<i64> {
    header(h, name)
        .filter(|v| !v.is_empty() && v.len() <= 18 && v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse::<i64>().ok())
        .ok_or_else(|| AppError::bad_request(format!("{name} must be a non-negative integer")))
}

/// Upload-Metadata: comma-separated `key base64value` pairs (the value may be absent). Returns
/// the header as sent (echoed on HEAD) and the decoded pairs; 400 when malformed.
pub fn metadata(h: &HeaderMap) -> AppResult<(String, Vec<(String, String)>)> {
    let Some(raw) = header(h, UPLOAD_METADATA).filter(|v| !v.is_empty()) else {
        return Ok((String::new(), Vec::new()));
    };
    if raw.len() > MAX_METADATA {
        return Err(AppError::bad_request(format!(
            "Upload-Metadata may have at most {MAX_METADATA} bytes"
        )));
    }
    let bad = |why: &str| AppError::bad_request(format!("Upload-Metadata: {why}"));
    let mut pairs: Vec<(String, String)> = Vec::new();
    for pair in raw.split(',') {
        let mut parts = pair.trim().split(' ');
        let key = parts.next().unwrap_or_default();
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad("each key is one word of printable ASCII"));
        }
        let value = match parts.next() {
            None => String::new(),
            Some(v) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(v)
                    .map_err(|_| bad("each value is base64"))?;
                String::from_utf8(bytes).map_err(|_| bad("each value is UTF-8 text"))?
            }
        };
        if parts.next().is_some() {
            return Err(bad("a key and one value per pair"));
        }
        // Decoded values are text that is stored (the file name): refused like any other text
        // holding a control character.
        if crate::http::controls::first_forbidden(&value).is_some() {
            return Err(AppError::field(
                format!("Upload-Metadata.{key}"),
                crate::http::controls::MESSAGE,
            ));
        }
        if pairs.iter().any(|(k, _)| k == key) {
            return Err(bad("each key once"));
        }
        pairs.push((key.to_string(), value));
    }
    Ok((raw.to_string(), pairs))
}

/// The checksum a PATCH body must have.
#[derive(Debug, Clone)]
pub struct Checksum {
    pub algorithm: Algorithm,
    pub expected: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
}

/// A running hash of a PATCH body.
pub enum Hasher {
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl Hasher {
    pub fn new(a: Algorithm) -> Hasher {
        match a {
            Algorithm::Sha1 => Hasher::Sha1(<sha1::Sha1 as sha1::Digest>::new()),
            Algorithm::Sha256 => Hasher::Sha256(<sha2::Sha256 as sha2::Digest>::new()),
        }
    }
    pub fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Sha1(h) => sha1::Digest::update(h, b),
            Hasher::Sha256(h) => sha2::Digest::update(h, b),
        }
    }
    pub fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha1(h) => sha1::Digest::finalize(h).to_vec(),
            Hasher::Sha256(h) => sha2::Digest::finalize(h).to_vec(),
        }
    }
}

/// Upload-Checksum: `<algorithm> <base64 digest>`. An algorithm not offered, or a digest that
/// is not base64 of the algorithm's length, is 400 (the checksum extension says so).
pub fn checksum(h: &HeaderMap) -> AppResult<Option<Checksum>> {
    let Some(raw) = header(h, UPLOAD_CHECKSUM) else {
        return Ok(None);
    };
    let (name, digest) = raw.split_once(' ').unwrap_or((raw, ""));
    let (algorithm, len) = match name.to_ascii_lowercase().as_str() {
        "sha1" => (Algorithm::Sha1, 20),
        "sha256" => (Algorithm::Sha256, 32),
        _ => {
            return Err(AppError::bad_request(format!(
                "Upload-Checksum: the algorithms are {CHECKSUM_ALGORITHMS}"
            )))
        }
    };
    let expected = base64::engine::general_purpose::STANDARD
        .decode(digest.trim())
        .ok()
        .filter(|d| d.len() == len)
        .ok_or_else(|| {
            AppError::bad_request("Upload-Checksum: the digest is the base64 of the hash")
        })?;
    Ok(Some(Checksum {
        algorithm,
        expected,
    }))
}

/// Upload-Expires: an HTTP date (RFC 9110 IMF-fixdate).
pub fn http_date(t: chrono::NaiveDateTime) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_static(k),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn metadata_pairs_are_decoded_and_malformed_ones_refused() {
        let h = headers(&[(
            UPLOAD_METADATA,
            "filename 5p2O5a625bGxLmpwZw==,hazard_id NDI=,flag",
        )]);
        let (raw, pairs) = metadata(&h).unwrap();
        assert!(raw.starts_with("filename "));
        assert_eq!(pairs[0], ("filename".into(), "李家山.jpg".into()));
        assert_eq!(pairs[1], ("hazard_id".into(), "42".into()));
        assert_eq!(pairs[2], ("flag".into(), String::new()));
        for bad in ["hazard_id !!!", "a b c", "a YQ==,a YQ==", "a YQ==,,b"] {
            let h = headers(&[(UPLOAD_METADATA, bad)]);
            assert_eq!(metadata(&h).unwrap_err().status.as_u16(), 400, "{bad}");
        }
    }

    #[test]
    fn checksums_name_an_offered_algorithm_and_a_digest_of_its_length() {
        let sha = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let h = headers(&[(UPLOAD_CHECKSUM, &format!("sha256 {sha}"))]);
        assert_eq!(checksum(&h).unwrap().unwrap().algorithm, Algorithm::Sha256);
        for bad in ["md5 AAAA", &format!("sha1 {sha}"), "sha256 ***"] {
            let h = headers(&[(UPLOAD_CHECKSUM, bad)]);
            assert_eq!(checksum(&h).unwrap_err().status.as_u16(), 400, "{bad}");
        }
        assert!(checksum(&HeaderMap::new()).unwrap().is_none());
    }

    #[test]
    fn numbers_are_plain_digits() {
        for ok in ["0", "10485760"] {
            assert!(number(&headers(&[(UPLOAD_OFFSET, ok)]), UPLOAD_OFFSET).is_ok());
        }
        for bad in ["-1", "1e3", "", "99999999999999999999", "+5"] {
            assert!(number(&headers(&[(UPLOAD_OFFSET, bad)]), UPLOAD_OFFSET).is_err());
        }
    }
}
