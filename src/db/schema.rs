// Kept by hand for both backends: only column types that SQLite and PostgreSQL share.
// Ids are INTEGER PRIMARY KEY on SQLite and BIGSERIAL on PostgreSQL: both BigInt here.

diesel::table! {
    regions (id) {
        id -> BigInt,
        parent_id -> Nullable<BigInt>,
        level -> Text,
        name -> Text,
        code -> Text,
        path -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    organizations (id) {
        id -> BigInt,
        kind -> Text,
        name -> Text,
        region_id -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    organization_jurisdictions (organization_id, region_id) {
        organization_id -> BigInt,
        kind -> Text,
        region_id -> BigInt,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        display_name -> Text,
        phone -> Nullable<Text>,
        region_id -> Nullable<BigInt>,
        password_hash -> Text,
        disabled -> Bool,
        token_version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    role_assignments (id) {
        id -> BigInt,
        user_id -> BigInt,
        role -> Text,
        region_id -> Nullable<BigInt>,
        organization_id -> Nullable<BigInt>,
        title -> Nullable<Text>,
        background -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    auth_sessions (id) {
        id -> Text,
        user_id -> BigInt,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        revoked_reason -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Text,
        session_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    login_failures (id) {
        id -> BigInt,
        username -> Text,
        ip -> Text,
        at -> Timestamp,
    }
}

diesel::joinable!(organizations -> regions (region_id));
diesel::joinable!(organization_jurisdictions -> organizations (organization_id));
diesel::joinable!(organization_jurisdictions -> regions (region_id));
diesel::joinable!(role_assignments -> users (user_id));
diesel::joinable!(users -> regions (region_id));
diesel::joinable!(auth_sessions -> users (user_id));
diesel::joinable!(refresh_tokens -> auth_sessions (session_id));

diesel::allow_tables_to_appear_in_same_query!(
    regions,
    organizations,
    organization_jurisdictions,
    users,
    role_assignments,
    auth_sessions,
    refresh_tokens,
    login_failures,
);
