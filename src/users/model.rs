use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::principal::AssignmentOut;
use crate::auth::roles::{Background, Role};
use crate::db::schema::users;
use crate::regions::model::RegionRef;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub phone: Option<String>,
    pub region_id: Option<i64>,
    pub password_hash: String,
    pub disabled: bool,
    pub token_version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// An account as the API shows it (never its password hash).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    pub id: i64,
    /// Usually a mobile number.
    pub username: String,
    pub display_name: String,
    pub phone: Option<String>,
    /// The region the account belongs to; null for global administrators.
    pub region: Option<RegionRef>,
    pub disabled: bool,
    pub roles: Vec<AssignmentOut>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Usually a mobile number: 3–64 of letters, digits, '.', '_', '-', '@' (kept lowercase).
    #[schema(
        pattern = r"^[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[A-Za-z0-9._@-]{3,64}[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub username: String,
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub display_name: String,
    #[schema(
        pattern = r"^[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*\+?-*([0-9]-*){5,20}[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub phone: Option<String>,
    /// The account's home region; omitted only by a global administrator for a global account.
    pub region_id: Option<i64>,
    /// At least 10 characters, not one of the most common passwords.
    #[schema(
        min_length = 10,
        max_length = 256,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$"
    )]
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub display_name: Option<String>,
    /// An empty string clears it.
    #[schema(
        pattern = r"^[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(\+?-*([0-9]-*){5,20})?[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub phone: Option<String>,
    pub region_id: Option<i64>,
    /// Disabling ends every session of the account at once.
    pub disabled: Option<bool>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAssignment {
    pub role: Role,
    /// For every role but police and fire officers (and a global administrator).
    pub region_id: Option<i64>,
    /// For police officers (a police station) and fire officers (a fire department).
    pub organization_id: Option<i64>,
    /// Committee title of a township official, e.g. 副镇长.
    #[schema(
        min_length = 1,
        max_length = 32,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub title: Option<String>,
    /// Background of a small-grid roster member (一长三员).
    pub background: Option<Background>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    /// At least 10 characters, not one of the most common passwords.
    #[schema(
        min_length = 10,
        max_length = 256,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$"
    )]
    pub new_password: String,
}
