-- Regions: the grid tree. `path` is the materialised path of ids ("/1/5/23/"), so a subtree is
-- one indexed range scan: path >= '/1/5/' AND path < '/1/50'.
CREATE TABLE regions (
    id INTEGER PRIMARY KEY,
    parent_id BIGINT REFERENCES regions(id),
    level TEXT NOT NULL CHECK (level IN ('province','prefecture','county','township','village','group')),
    name TEXT NOT NULL,
    code TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX regions_parent ON regions(parent_id, id);
CREATE INDEX regions_level_path ON regions(level, path);

CREATE TABLE organizations (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('police_station','fire_department','micro_fire_station','governance_office','market_supervision','patrol_team','township_fire_team')),
    name TEXT NOT NULL,
    region_id BIGINT NOT NULL REFERENCES regions(id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX organizations_region ON organizations(region_id);

-- A township belongs to one police station, a county to one fire department: unique per kind.
CREATE TABLE organization_jurisdictions (
    organization_id BIGINT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    region_id BIGINT NOT NULL REFERENCES regions(id),
    PRIMARY KEY (organization_id, region_id),
    UNIQUE (kind, region_id)
);
CREATE INDEX organization_jurisdictions_region ON organization_jurisdictions(region_id);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    phone TEXT,
    -- The region the account belongs to; admins see accounts whose home is in their subtree.
    -- NULL only for global administrators.
    region_id BIGINT REFERENCES regions(id),
    password_hash TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT 0,
    -- Bumped on password change, disable or reset: every token issued before stops working.
    token_version INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX users_region ON users(region_id);

CREATE TABLE role_assignments (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('admin','county_official','township_official','village_cadre','village_police','grid_leader','grid_inspector','grid_handler','grid_coordinator','police_officer','fire_officer')),
    region_id BIGINT REFERENCES regions(id),
    organization_id BIGINT REFERENCES organizations(id),
    title TEXT,
    background TEXT,
    created_at TIMESTAMP NOT NULL,
    CHECK (region_id IS NULL OR organization_id IS NULL)
);
CREATE INDEX role_assignments_user ON role_assignments(user_id);
CREATE INDEX role_assignments_region ON role_assignments(region_id, role);
CREATE INDEX role_assignments_org ON role_assignments(organization_id);

-- A login session: one refresh-token family. Revoking it ends its access tokens too.
CREATE TABLE auth_sessions (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    revoked_reason TEXT
);
CREATE INDEX auth_sessions_user ON auth_sessions(user_id);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES auth_sessions(id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);

-- Failed logins, counted in a sliding window; in the database so that every server of a
-- deployment sees the same count.
CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL,
    ip TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX login_failures_username ON login_failures(username, at);
CREATE INDEX login_failures_ip ON login_failures(ip, at);
