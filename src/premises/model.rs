use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::db::schema::premises;
use crate::regions::model::RegionRef;
use crate::validate::Checks;
pub use crate::vocab::{PatrolKind, PremisesCategory};

pub const NAME_MAX: usize = 64;
pub const ADDRESS_MAX: usize = 128;
pub const CONTACT_MAX: usize = 32;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = premises)]
pub struct PremisesRow {
    pub id: i64,
    pub group_id: i64,
    pub region_path: String,
    pub name: String,
    pub category: PremisesCategory,
    pub address: String,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub signage: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub last_checked_at: Option<NaiveDateTime>,
    pub last_check_kind: Option<PatrolKind>,
}

/// Premises as the API shows them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Premises {
    pub id: i64,
    /// The group (small grid) it lies in.
    pub group: RegionRef,
    pub name: String,
    pub category: PremisesCategory,
    pub address: String,
    /// WGS-84 latitude, −90…90; null when unknown.
    pub lat: Option<f64>,
    /// WGS-84 longitude, −180…180; null when unknown.
    pub lng: Option<f64>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    /// Whether fire signage (消防标牌) is up.
    pub signage: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// When a patrol, village check or township inspection last checked it (the round's
    /// start); null when never.
    pub last_checked_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The kind of that round.
    pub last_check_kind: Option<PatrolKind>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPremises {
    /// The group (small grid) it lies in.
    pub group_id: i64,
    /// 1–64 characters, unique within the group, e.g. 李家山便民超市.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    pub category: PremisesCategory,
    /// 1–128 characters.
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub address: String,
    /// Latitude and longitude come together or not at all.
    #[schema(minimum = -90, maximum = 90)]
    pub lat: Option<f64>,
    #[schema(minimum = -180, maximum = 180)]
    pub lng: Option<f64>,
    /// Up to 32 characters; empty means none.
    #[schema(
        max_length = 32,
        pattern = r"^[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$|^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub contact_name: Option<String>,
    /// 5–20 digits; empty means none.
    #[schema(
        pattern = r"^[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(\+?-*([0-9]-*){5,20})?[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub contact_phone: Option<String>,
    /// Default false.
    #[serde(default)]
    pub signage: bool,
}

/// Only the fields present change. `lat`/`lng` set to null clear the location; an empty
/// `contact_name` or `contact_phone` clears it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PremisesPatch {
    /// Move to another group (writable by the caller too).
    pub group_id: Option<i64>,
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: Option<String>,
    pub category: Option<PremisesCategory>,
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub address: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<f64>, minimum = -90, maximum = 90)]
    pub lat: Option<Option<f64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<f64>, minimum = -180, maximum = 180)]
    pub lng: Option<Option<f64>>,
    #[schema(
        max_length = 32,
        pattern = r"^[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$|^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub contact_name: Option<String>,
    #[schema(
        pattern = r"^[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(\+?-*([0-9]-*){5,20})?[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub contact_phone: Option<String>,
    pub signage: Option<bool>,
}

/// Tells a field set to null (`Some(None)`) from one left out (`None`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Premises fields after validation: what the store writes.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidPremises {
    pub name: String,
    pub category: PremisesCategory,
    pub address: String,
    pub location: Option<(f64, f64)>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub signage: bool,
}

/// Raw premises fields, from JSON or a CSV line.
pub struct PremisesInput<'a> {
    pub name: &'a str,
    pub category: PremisesCategory,
    pub address: &'a str,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub contact_name: Option<&'a str>,
    pub contact_phone: Option<&'a str>,
    pub signage: bool,
}

impl PremisesInput<'_> {
    /// Checks every field into `checks` (field names as on the wire and in CSV headers).
    pub fn validate(&self, checks: &mut Checks) -> ValidPremises {
        let name = checks.name("name", self.name, NAME_MAX);
        let address = checks.name("address", self.address, ADDRESS_MAX);
        let location = match (self.lat, self.lng) {
            (None, None) => None,
            (Some(lat), Some(lng)) => {
                if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
                    checks.fail("lat", "must be a latitude between -90 and 90");
                }
                if !(lng.is_finite() && (-180.0..=180.0).contains(&lng)) {
                    checks.fail("lng", "must be a longitude between -180 and 180");
                }
                Some((lat, lng))
            }
            (Some(_), None) => {
                checks.fail("lng", "latitude and longitude come together");
                None
            }
            (None, Some(_)) => {
                checks.fail("lat", "latitude and longitude come together");
                None
            }
        };
        let contact_name = self
            .contact_name
            .filter(|s| !s.trim().is_empty())
            .map(|s| checks.name("contact_name", s, CONTACT_MAX));
        let contact_phone = self
            .contact_phone
            .filter(|s| !s.trim().is_empty())
            .map(|s| checks.phone("contact_phone", s));
        ValidPremises {
            name,
            category: self.category,
            address,
            location,
            contact_name,
            contact_phone,
            signage: self.signage,
        }
    }
}

impl PremisesRow {
    pub fn valid(&self) -> ValidPremises {
        ValidPremises {
            name: self.name.clone(),
            category: self.category,
            address: self.address.clone(),
            location: self.lat.zip(self.lng),
            contact_name: self.contact_name.clone(),
            contact_phone: self.contact_phone.clone(),
            signage: self.signage,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(lat: Option<f64>, lng: Option<f64>) -> PremisesInput<'static> {
        PremisesInput {
            name: " 李家山便民超市 ",
            category: PremisesCategory::Shop,
            address: "李家山镇李家山村一组12号",
            lat,
            lng,
            contact_name: Some(""),
            contact_phone: None,
            signage: true,
        }
    }

    #[test]
    fn coordinates_come_in_range_and_together() {
        let mut c = Checks::new();
        let v = input(Some(36.5), Some(101.6)).validate(&mut c);
        assert!(c.finish().is_ok());
        assert_eq!(v.name, "李家山便民超市");
        assert_eq!(v.location, Some((36.5, 101.6)));
        assert_eq!(v.contact_name, None, "an empty contact is none");
        for (lat, lng, field) in [
            (Some(91.0), Some(0.0), "lat"),
            (Some(0.0), Some(-180.5), "lng"),
            (Some(f64::NAN), Some(0.0), "lat"),
            (Some(1.0), None, "lng"),
            (None, Some(1.0), "lat"),
        ] {
            let mut c = Checks::new();
            input(lat, lng).validate(&mut c);
            let err = c.finish().unwrap_err();
            assert_eq!(err.errors[0].field, field, "{lat:?} {lng:?}");
        }
    }

    #[test]
    fn patch_tells_null_from_absent() {
        let p: PremisesPatch = serde_json::from_str(r#"{"lat": null, "lng": null}"#).unwrap();
        assert_eq!((p.lat, p.lng), (Some(None), Some(None)));
        let p: PremisesPatch = serde_json::from_str(r#"{"name": "x"}"#).unwrap();
        assert_eq!((p.lat, p.lng), (None, None));
        let p: PremisesPatch = serde_json::from_str(r#"{"lat": 1.5, "lng": 2}"#).unwrap();
        assert_eq!((p.lat, p.lng), (Some(Some(1.5)), Some(Some(2.0))));
    }
}
