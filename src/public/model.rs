//! What the public sends and sees, and what staff see of a public report.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use crate::vocab::{Category, Channel, PublicStatus, RegionLevel};

/// Longest description a public report may carry (characters).
pub const MAX_DESCRIPTION: usize = 2000;

/// `POST /api/v1/public/reports`: a report without an account.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPublicReport {
    /// A village or group from `GET /api/v1/public/regions`.
    pub region_id: i64,
    pub category: Category,
    /// What and where, up to 2,000 characters.
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*[^\x00-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x08\x0b\x0c\x0e-\x1f]*$"
    )]
    pub description: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub address: Option<String>,
    /// WGS-84, given together with `lng`.
    #[schema(minimum = -90, maximum = 90)]
    pub lat: Option<f64>,
    #[schema(minimum = -180, maximum = 180)]
    pub lng: Option<f64>,
    /// Seen only by the staff who verify or handle the report; erased some time after it closes.
    #[schema(
        pattern = r"^[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*\+?-*([0-9]-*){5,20}[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub contact_phone: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub contact_name: Option<String>,
}

/// `POST /api/v1/intake`: a report taken by telephone or in person (热线 96119 / 12345, 来访):
/// the public report's fields and the channel.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntakeReport {
    /// `hotline_96119`, `hotline_12345` or `walk_in`.
    pub channel: Channel,
    /// A village or group in your scope.
    pub region_id: i64,
    pub category: Category,
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*[^\x00-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x08\x0b\x0c\x0e-\x1f]*$"
    )]
    pub description: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub address: Option<String>,
    #[schema(minimum = -90, maximum = 90)]
    pub lat: Option<f64>,
    #[schema(minimum = -180, maximum = 180)]
    pub lng: Option<f64>,
    /// The caller's number, private to the staff handling the case.
    #[schema(
        pattern = r"^[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*\+?-*([0-9]-*){5,20}[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub contact_phone: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub contact_name: Option<String>,
}

impl IntakeReport {
    pub fn split(self) -> (Channel, NewPublicReport) {
        (
            self.channel,
            NewPublicReport {
                region_id: self.region_id,
                category: self.category,
                description: self.description,
                address: self.address,
                lat: self.lat,
                lng: self.lng,
                contact_phone: self.contact_phone,
                contact_name: self.contact_name,
            },
        )
    }
}

/// 201 to a public report: keep both. The tracking code names the report; the secret proves it
/// is yours (send it as `X-Report-Secret`). Only its hash is stored: it cannot be shown again.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Receipt {
    /// 10 characters of Crockford base32.
    pub tracking_code: String,
    /// 16 characters of Crockford base32 in groups of four.
    pub secret: String,
    pub status: PublicStatus,
    pub received_at: DateTime<Utc>,
    /// A first response is due by then (48 hours).
    pub first_response_due: DateTime<Utc>,
}

/// `GET /api/v1/public/reports/{tracking_code}`: all the reporter sees.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicView {
    pub tracking_code: String,
    pub status: PublicStatus,
    /// The latest answer from staff (a reply, or why the report was rejected).
    pub public_reply: Option<String>,
    pub received_at: DateTime<Utc>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// The reporter's contact, for the staff who verify or handle the case.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Contact {
    pub name: Option<String>,
    pub phone: Option<String>,
}

/// What staff see of a case's public report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicReportInfo {
    pub channel: Channel,
    pub tracking_code: String,
    pub received_at: DateTime<Utc>,
    pub first_response_due: DateTime<Utc>,
    pub first_response_at: Option<DateTime<Utc>>,
    /// No first response within 48 hours (stays set once the response came late).
    pub first_response_overdue: bool,
    pub public_reply: Option<String>,
    /// Only on single-case answers to staff who verify or handle the case; `null` otherwise,
    /// and after erasure.
    pub contact: Option<Contact>,
    /// The contact was erased (the case closed long enough ago).
    pub contact_erased: bool,
}

/// 201 to a hotline or walk-in report: read the tracking code and secret back to the caller.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IntakeReceipt {
    pub tracking_code: String,
    pub secret: String,
    pub hazard: crate::hazards::store::Hazard,
}

/// A region of the public tree: ids, codes and names only.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicRegion {
    pub id: i64,
    pub level: RegionLevel,
    pub code: String,
    pub name: String,
    /// Townships of a county, villages of a township, groups of a village.
    #[schema(no_recursion)]
    pub children: Vec<PublicRegion>,
}

/// `GET /api/v1/public/regions`: every county the deployment serves, down to the groups.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicRegions {
    pub counties: Vec<PublicRegion>,
}
