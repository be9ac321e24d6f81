//! What Open311 GeoReport v2 clients send and read, and the API keys administrators issue.
//! Field names are GeoReport's (`long`, `status_notes`, `requested_datetime` …), not firegrid's.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db::schema::open311_keys;
pub use crate::vocab::{Category, Open311Status};

/// Where GeoReport v2 is served.
pub const PREFIX: &str = "/open311/v2";

/// `GET /open311/v2/discovery`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Discovery {
    pub changeset: DateTime<Utc>,
    pub contact: String,
    /// How to get an API key (needed to post requests only).
    pub key_service: String,
    pub endpoints: Vec<Endpoint>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Endpoint {
    pub specification: String,
    pub url: String,
    pub changeset: DateTime<Utc>,
    #[serde(rename = "type")]
    pub kind: String,
    pub formats: Vec<String>,
}

/// One service: a hazard category (火灾隐患类别).
#[derive(Debug, Serialize, ToSchema)]
pub struct Service {
    pub service_code: Category,
    /// The category's Chinese name.
    pub service_name: String,
    pub description: String,
    /// Always true: a request names its village or group (`attribute[region_id]`).
    pub metadata: bool,
    /// `realtime`: the answer to a POST carries the `service_request_id`.
    #[serde(rename = "type")]
    pub kind: String,
    pub keywords: String,
    pub group: String,
}

/// `GET /open311/v2/services/{service_code}`: the attributes a request of this service takes.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceDefinition {
    pub service_code: Category,
    pub attributes: Vec<Attribute>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Attribute {
    pub variable: bool,
    pub code: String,
    /// GeoReport's data type (`number`).
    pub datatype: String,
    pub required: bool,
    pub datatype_description: String,
    pub order: i32,
    pub description: String,
}

/// A service request as anyone may read it back: exactly what the reporter's own view shows
/// (status, the public reply, the times) and the service it was filed under. Never the
/// description, place, contact, photos or who works on it: a GeoReport read needs no key, and
/// a report may name a neighbour or the reporter.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceRequest {
    /// The report's tracking code (10 characters of Crockford base32).
    pub service_request_id: String,
    pub status: Open311Status,
    /// The latest public answer from staff (a reply, or why the report was rejected).
    pub status_notes: Option<String>,
    pub service_code: Category,
    pub service_name: String,
    pub requested_datetime: DateTime<Utc>,
    pub updated_datetime: DateTime<Utc>,
}

/// The answer to a POST.
#[derive(Debug, Serialize, ToSchema)]
pub struct Created {
    /// Read the request back with `GET /open311/v2/requests/{service_request_id}`.
    pub service_request_id: String,
    pub service_notice: String,
}

/// `GET /open311/v2/tokens/{token}`: requests are created at once, so a request's id is also
/// its token.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenAnswer {
    pub token: String,
    pub service_request_id: String,
}

/// A GeoReport error; answers carry an array of them.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Open311Error {
    /// The HTTP status.
    pub code: u16,
    pub description: String,
}

/// `POST /open311/v2/requests`, form-encoded (as GeoReport v2 clients send it) or JSON. The
/// standard fields `email`, `device_id`, `account_id`, `address_id` and `media_url` are
/// accepted and not kept; other fields are ignored.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewRequest {
    /// A key from `POST /api/v1/open311-keys`.
    #[schema(
        min_length = 16,
        max_length = 200,
        pattern = r"^[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]{16,200}$"
    )]
    pub api_key: String,
    /// The county's code; the key's county when left out.
    #[schema(
        pattern = r"^[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[A-Za-z0-9-]{1,32}[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub jurisdiction_id: Option<String>,
    pub service_code: Category,
    /// The village or group of the report (`GET /api/v1/public/regions`), inside the key's
    /// county.
    #[serde(rename = "attribute[region_id]")]
    pub region_id: i64,
    /// What and where, up to 2,000 characters.
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*[^\x00-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x08\x0b\x0c\x0e-\x1f]*$"
    )]
    pub description: String,
    /// WGS-84, given together with `long`.
    #[schema(minimum = -90, maximum = 90)]
    pub lat: Option<f64>,
    #[schema(minimum = -180, maximum = 180)]
    pub long: Option<f64>,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub address_string: Option<String>,
    /// With `last_name`, the reporter's name (together at most 50 characters): seen only by
    /// the staff who verify or handle the report.
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub first_name: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub last_name: Option<String>,
    /// Seen only by the staff who verify or handle the report; counted by the public throttle.
    #[schema(
        pattern = r"^[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*\+?-*([0-9]-*){5,20}[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub phone: Option<String>,
}

/// `GET /open311/v2/requests` (documentation of the query; the handler reads it itself so
/// that every refusal is a GeoReport error).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct RequestsQuery {
    /// A county's code: only its requests.
    #[param(
        pattern = r"^[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[A-Za-z0-9-]{1,32}[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub jurisdiction_id: Option<String>,
    /// Comma-separated ids; overrides every other filter.
    #[param(pattern = r"^[0-9A-Za-z ,-]*$")]
    pub service_request_id: Option<String>,
    /// Comma-separated service codes (`GET /open311/v2/services`).
    #[param(pattern = r"^([a-z_]+(,[a-z_]+)*)?$")]
    pub service_code: Option<String>,
    /// Received at or after (RFC 3339, e.g. `2026-11-01T00:00:00Z`). Without dates: the last
    /// 90 days.
    pub start_date: Option<DateTime<Utc>>,
    /// Received at or before.
    pub end_date: Option<DateTime<Utc>>,
    /// `open`, `closed`, or both comma-separated.
    #[param(pattern = r"^((open|closed)(,(open|closed))*)?$")]
    pub status: Option<String>,
}

/// `?jurisdiction_id=` of the reads.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct JurisdictionQuery {
    /// A county's code (optional: codes are unique across the deployment).
    #[param(
        pattern = r"^[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[A-Za-z0-9-]{1,32}[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub jurisdiction_id: Option<String>,
}

/// The errors of `/open311/v2`, in GeoReport's format (an array of `{code, description}`).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum Open311Errors {
    /// Malformed query, form or JSON, or an unsupported format.
    #[response(status = 400)]
    BadRequest(Vec<Open311Error>),
    /// Missing, unknown or revoked `api_key`.
    #[response(status = 403)]
    Forbidden(Vec<Open311Error>),
    /// No such service, request, token or jurisdiction; a region outside the key's county.
    #[response(status = 404)]
    NotFound(Vec<Open311Error>),
    /// Body too large.
    #[response(status = 413)]
    PayloadTooLarge(Vec<Open311Error>),
    /// Neither form-encoded nor JSON.
    #[response(status = 415)]
    UnsupportedMediaType(Vec<Open311Error>),
    /// A field is invalid (the description names it).
    #[response(status = 422)]
    ValidationFailed(Vec<Open311Error>),
    /// Too many reports from this address or phone; `Retry-After` says when to try again.
    #[response(status = 429)]
    RateLimited(Vec<Open311Error>),
    /// The database is unreachable right now.
    #[response(status = 503)]
    Unavailable(Vec<Open311Error>),
}

/// `POST /api/v1/open311-keys`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// Who uses the key (the app or its operator), for the administrators' list.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    /// The county the key posts for (its `jurisdiction_id`), in your scope.
    pub county_id: i64,
}

/// An Open311 API key. The key itself is shown once, in the answer to its creation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Key {
    pub id: i64,
    pub name: String,
    pub county_id: i64,
    /// The county's code: the key's `jurisdiction_id`.
    pub jurisdiction_id: String,
    /// The key's first characters, to tell keys apart.
    pub prefix: String,
    /// Only in the answer to `POST /open311-keys`; only its hash is kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    pub created_by: i64,
    pub created_at: DateTime<Utc>,
    /// Set once revoked: the key is refused from then on.
    pub revoked_at: Option<DateTime<Utc>>,
}

pub const NAME_MAX: usize = 100;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = open311_keys)]
pub struct KeyRow {
    pub id: i64,
    pub name: String,
    pub county_id: i64,
    pub key_hash: String,
    pub prefix: String,
    pub created_by: i64,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub revoked_by: Option<i64>,
}

impl KeyRow {
    pub fn to_api(&self, jurisdiction_id: &str) -> Key {
        Key {
            id: self.id,
            name: self.name.clone(),
            county_id: self.county_id,
            jurisdiction_id: jurisdiction_id.to_string(),
            prefix: self.prefix.clone(),
            api_key: None,
            created_by: self.created_by,
            created_at: self.created_at.and_utc(),
            revoked_at: self.revoked_at.map(|t| t.and_utc()),
        }
    }
}
