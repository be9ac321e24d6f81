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
        supervisor_user_id -> Nullable<BigInt>,
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
        roles_version -> BigInt,
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

diesel::table! {
    premises (id) {
        id -> BigInt,
        group_id -> BigInt,
        region_path -> Text,
        name -> Text,
        category -> Text,
        address -> Text,
        lat -> Nullable<Double>,
        lng -> Nullable<Double>,
        contact_name -> Nullable<Text>,
        contact_phone -> Nullable<Text>,
        signage -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        last_checked_at -> Nullable<Timestamp>,
        last_check_kind -> Nullable<Text>,
    }
}

// regions.supervisor_user_id -> users is joined with an explicit `.on(..)`: a second
// `joinable!` between users and regions would clash with users.region_id.
diesel::table! {
    hazards (id) {
        id -> BigInt,
        case_no -> Text,
        county_id -> BigInt,
        group_id -> BigInt,
        region_path -> Text,
        premises_id -> Nullable<BigInt>,
        category -> Text,
        severity -> Text,
        title -> Text,
        description -> Text,
        address -> Nullable<Text>,
        lat -> Nullable<Double>,
        lng -> Nullable<Double>,
        source -> Text,
        reporter_user_id -> Nullable<BigInt>,
        status -> Text,
        level -> Text,
        deadline -> Nullable<Timestamp>,
        deadline_reminded -> Bool,
        difficulty -> Nullable<Text>,
        supervision_listed -> Bool,
        supervision_overdue -> Bool,
        outcome -> Nullable<Text>,
        duplicate_of -> Nullable<BigInt>,
        rectification_submitted_by -> Nullable<BigInt>,
        found_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        closed_at -> Nullable<Timestamp>,
        last_spot_checked_at -> Nullable<Timestamp>,
        version -> Integer,
        township_id -> BigInt,
    }
}

diesel::table! {
    case_counters (county_id, year) {
        county_id -> BigInt,
        year -> Integer,
        last_seq -> BigInt,
    }
}

diesel::table! {
    hazard_events (id) {
        id -> BigInt,
        hazard_id -> BigInt,
        seq -> Integer,
        action -> Text,
        actor_user_id -> Nullable<BigInt>,
        from_status -> Nullable<Text>,
        to_status -> Text,
        from_level -> Nullable<Text>,
        to_level -> Text,
        params -> Text,
        created_at -> Timestamp,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    attachments (id) {
        id -> BigInt,
        hazard_id -> BigInt,
        sha256 -> Text,
        content_type -> Text,
        size -> BigInt,
        uploaded_by -> Nullable<BigInt>,
        taken_at -> Nullable<Timestamp>,
        gps_lat -> Nullable<Double>,
        gps_lng -> Nullable<Double>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    notifications (id) {
        id -> BigInt,
        user_id -> BigInt,
        hazard_id -> Nullable<BigInt>,
        kind -> Text,
        message -> Text,
        created_at -> Timestamp,
        read_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    idempotency_keys (user_id, key) {
        user_id -> BigInt,
        key -> Text,
        request_hash -> Text,
        status_code -> Integer,
        response -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(premises -> regions (group_id));
diesel::joinable!(organizations -> regions (region_id));
diesel::joinable!(organization_jurisdictions -> organizations (organization_id));
diesel::joinable!(organization_jurisdictions -> regions (region_id));
diesel::joinable!(role_assignments -> users (user_id));
diesel::joinable!(users -> regions (region_id));
diesel::joinable!(auth_sessions -> users (user_id));
diesel::joinable!(refresh_tokens -> auth_sessions (session_id));

diesel::table! {
    stalled_deadlines (hazard_id, deadline) {
        hazard_id -> BigInt,
        deadline -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    uploads (id) {
        id -> Text,
        hazard_id -> BigInt,
        created_by -> Nullable<BigInt>,
        length -> BigInt,
        upload_offset -> BigInt,
        metadata -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        lease -> Nullable<Text>,
        lease_at -> Nullable<Timestamp>,
        completed_at -> Nullable<Timestamp>,
        attachment_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    upload_segments (upload_id, start_offset) {
        upload_id -> Text,
        start_offset -> BigInt,
        file -> Text,
    }
}

diesel::table! {
    job_runs (job) {
        job -> Text,
        last_success_at -> Nullable<Timestamp>,
        last_duration_ms -> Nullable<BigInt>,
        last_failure_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    patrols (id) {
        id -> BigInt,
        kind -> Text,
        region_id -> BigInt,
        region_path -> Text,
        theme -> Nullable<Text>,
        local_date -> Text,
        started_at -> Timestamp,
        ended_at -> Timestamp,
        recorded_at -> Timestamp,
        recorded_by -> BigInt,
        track -> Nullable<Text>,
    }
}

diesel::table! {
    patrol_checks (patrol_id, seq) {
        patrol_id -> BigInt,
        seq -> Integer,
        premises_id -> BigInt,
        result -> Text,
        note -> Nullable<Text>,
    }
}

diesel::table! {
    patrol_hazards (hazard_id) {
        hazard_id -> BigInt,
        patrol_id -> BigInt,
    }
}

diesel::table! {
    patrol_alerts (group_id, run_start) {
        group_id -> BigInt,
        run_start -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    inspection_alerts (township_id, month) {
        township_id -> BigInt,
        month -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sync_log (pos) {
        pos -> BigInt,
        txid -> BigInt,
        entity -> Text,
        entity_id -> BigInt,
        region_path -> Nullable<Text>,
        user_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    sync_marks (id) {
        id -> BigInt,
        marked_at -> Timestamp,
        txid -> BigInt,
        pos -> BigInt,
    }
}

diesel::table! {
    sync_pruned (id) {
        id -> Integer,
        txid -> BigInt,
        pos -> BigInt,
    }
}

diesel::joinable!(patrol_checks -> patrols (patrol_id));
diesel::joinable!(patrol_checks -> premises (premises_id));
diesel::joinable!(patrol_hazards -> hazards (hazard_id));
diesel::joinable!(patrol_hazards -> patrols (patrol_id));
diesel::joinable!(hazard_events -> hazards (hazard_id));
diesel::joinable!(stalled_deadlines -> hazards (hazard_id));
diesel::joinable!(attachments -> hazards (hazard_id));

diesel::table! {
    public_reports (hazard_id) {
        hazard_id -> BigInt,
        tracking_code -> Text,
        secret_hash -> Text,
        channel -> Text,
        region_id -> BigInt,
        village_id -> BigInt,
        contact_name -> Nullable<Text>,
        contact_phone -> Nullable<Text>,
        recorded_by -> Nullable<BigInt>,
        received_at -> Timestamp,
        first_response_due -> Timestamp,
        first_response_at -> Nullable<Timestamp>,
        first_response_reminded -> Bool,
        first_response_overdue -> Bool,
        public_reply -> Nullable<Text>,
        contact_erased_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    public_throttle (bucket, window_start) {
        bucket -> Text,
        window_start -> Timestamp,
        hits -> Integer,
    }
}

diesel::table! {
    public_idempotency_keys (key) {
        key -> Text,
        request_hash -> Text,
        status_code -> Integer,
        response -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(public_reports -> hazards (hazard_id));

diesel::table! {
    webhooks (id) {
        id -> BigInt,
        url -> Text,
        secret -> Nullable<Text>,
        kinds -> Text,
        format -> Text,
        region_id -> Nullable<BigInt>,
        organization_id -> Nullable<BigInt>,
        created_by -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    notification_outbox (id) {
        id -> BigInt,
        kind -> Text,
        hazard_id -> Nullable<BigInt>,
        region_path -> Text,
        message -> Text,
        subject -> Nullable<Text>,
        created_at -> Timestamp,
        dispatched_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        delivery_id -> Text,
        webhook_id -> BigInt,
        outbox_id -> BigInt,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        last_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));
diesel::joinable!(webhook_deliveries -> notification_outbox (outbox_id));

diesel::table! {
    open311_keys (id) {
        id -> BigInt,
        name -> Text,
        county_id -> BigInt,
        key_hash -> Text,
        prefix -> Text,
        created_by -> BigInt,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        revoked_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    open311_requests (hazard_id) {
        hazard_id -> BigInt,
        key_id -> BigInt,
        county_id -> BigInt,
        received_at -> Timestamp,
    }
}

diesel::joinable!(open311_requests -> public_reports (hazard_id));
diesel::joinable!(open311_requests -> open311_keys (key_id));

diesel::allow_tables_to_appear_in_same_query!(
    hazards,
    case_counters,
    hazard_events,
    attachments,
    notifications,
    idempotency_keys,
    regions,
    organizations,
    organization_jurisdictions,
    users,
    role_assignments,
    auth_sessions,
    refresh_tokens,
    login_failures,
    premises,
    stalled_deadlines,
    job_runs,
    public_reports,
    public_throttle,
    public_idempotency_keys,
    webhooks,
    notification_outbox,
    webhook_deliveries,
    patrols,
    patrol_checks,
    patrol_hazards,
    patrol_alerts,
    inspection_alerts,
    sync_log,
    uploads,
    upload_segments,
    open311_keys,
    open311_requests,
);
