-- Hazard cases (火灾隐患), their append-only hash-chained timeline, photos, notifications, and
-- the idempotency records that make retries from weak mobile signal safe.

CREATE TABLE hazards (
    id BIGSERIAL PRIMARY KEY,
    -- <county code>-<year>-<6-digit sequence>, consecutive per county and year.
    case_no TEXT NOT NULL UNIQUE,
    county_id BIGINT NOT NULL REFERENCES regions(id),
    group_id BIGINT NOT NULL REFERENCES regions(id),
    -- The group's materialised path: scope filters are one indexed range scan.
    region_path TEXT COLLATE "C" NOT NULL,
    premises_id BIGINT REFERENCES premises(id),
    category TEXT NOT NULL CHECK (category IN ('electrical','blocked_escape_route','flammable_storage','equipment_missing','open_flame','mixed_use','illegal_fuel','other')),
    severity TEXT NOT NULL CHECK (severity IN ('general','major')),
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    address TEXT,
    lat DOUBLE PRECISION,
    lng DOUBLE PRECISION,
    source TEXT NOT NULL CHECK (source IN ('patrol','inspection','public','other')),
    reporter_user_id BIGINT REFERENCES users(id),
    status TEXT NOT NULL CHECK (status IN ('pending_verification','open','awaiting_review','closed','rejected')),
    level TEXT NOT NULL CHECK (level IN ('group','village','township','police')),
    deadline TIMESTAMP,
    deadline_reminded BOOLEAN NOT NULL DEFAULT FALSE,
    difficulty TEXT CHECK (difficulty IN ('easy','moderate','hard')),
    supervision_listed BOOLEAN NOT NULL DEFAULT FALSE,
    supervision_overdue BOOLEAN NOT NULL DEFAULT FALSE,
    outcome TEXT CHECK (outcome IN ('rectified','unfounded','duplicate')),
    duplicate_of BIGINT REFERENCES hazards(id),
    rectification_submitted_by BIGINT REFERENCES users(id),
    found_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    closed_at TIMESTAMP,
    last_spot_checked_at TIMESTAMP,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX hazards_scope ON hazards(region_path, id);
CREATE INDEX hazards_status_scope ON hazards(status, region_path, id);
CREATE INDEX hazards_group ON hazards(group_id);
-- The deadline sweep reads only open cases with a deadline.
CREATE INDEX hazards_due ON hazards(deadline) WHERE status = 'open' AND deadline IS NOT NULL;

CREATE TABLE case_counters (
    county_id BIGINT NOT NULL REFERENCES regions(id),
    year INTEGER NOT NULL,
    last_seq BIGINT NOT NULL,
    PRIMARY KEY (county_id, year)
);

CREATE TABLE hazard_events (
    id BIGSERIAL PRIMARY KEY,
    hazard_id BIGINT NOT NULL REFERENCES hazards(id),
    seq INTEGER NOT NULL,
    action TEXT NOT NULL,
    -- NULL when the system acted (deadline sweep).
    actor_user_id BIGINT REFERENCES users(id),
    from_status TEXT,
    to_status TEXT NOT NULL,
    from_level TEXT,
    to_level TEXT NOT NULL,
    params TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    UNIQUE (hazard_id, seq)
);

-- Events are never updated or deleted.
CREATE FUNCTION firegrid_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'hazard events are append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER hazard_events_append_only BEFORE UPDATE OR DELETE ON hazard_events
FOR EACH ROW EXECUTE FUNCTION firegrid_append_only();

CREATE TABLE attachments (
    id BIGSERIAL PRIMARY KEY,
    hazard_id BIGINT NOT NULL REFERENCES hazards(id),
    sha256 TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    uploaded_by BIGINT NOT NULL REFERENCES users(id),
    -- Read from EXIF before it is stripped: evidence of when and where the photo was taken.
    taken_at TIMESTAMP,
    gps_lat DOUBLE PRECISION,
    gps_lng DOUBLE PRECISION,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX attachments_hazard ON attachments(hazard_id);

CREATE TABLE notifications (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    hazard_id BIGINT REFERENCES hazards(id),
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    read_at TIMESTAMP
);
CREATE INDEX notifications_user ON notifications(user_id, id);
CREATE INDEX notifications_unread ON notifications(user_id, id) WHERE read_at IS NULL;

-- A retried request with the same key and body gets the first response back.
CREATE TABLE idempotency_keys (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    response TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);
