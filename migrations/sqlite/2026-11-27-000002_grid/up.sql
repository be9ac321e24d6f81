-- The grid proper: responsible supervisors (分片包干), one grid leader per group (一长), and the
-- premises registered in each group (一格多点).

-- The person answering for a township, village or group; must hold a role at the tier above.
ALTER TABLE regions ADD COLUMN supervisor_user_id BIGINT REFERENCES users(id);

-- 一长: at most one grid leader per group, also under concurrent grants.
CREATE UNIQUE INDEX role_assignments_one_leader ON role_assignments(region_id) WHERE role = 'grid_leader';

-- Premises (一格多点): the nine small places and the rest, each inside one group. `region_path`
-- copies the group's materialised path (regions never move), so listing a subtree is one
-- indexed range scan without a join.
CREATE TABLE premises (
    id INTEGER PRIMARY KEY,
    group_id BIGINT NOT NULL REFERENCES regions(id),
    region_path TEXT NOT NULL,
    name TEXT NOT NULL,
    category TEXT NOT NULL CHECK (category IN ('shop','restaurant','hotel','entertainment','internet_cafe','beauty_bath','workshop','clinic','school','residential','social_unit','other')),
    address TEXT NOT NULL,
    lat DOUBLE PRECISION,
    lng DOUBLE PRECISION,
    contact_name TEXT,
    contact_phone TEXT,
    signage BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK ((lat IS NULL) = (lng IS NULL)),
    CHECK (lat IS NULL OR (lat BETWEEN -90 AND 90 AND lng BETWEEN -180 AND 180))
);
-- The premises key for imports: a name is unique within its group.
CREATE UNIQUE INDEX premises_group_name ON premises(group_id, name);
CREATE INDEX premises_path ON premises(region_path, id);
CREATE INDEX premises_category ON premises(category, region_path);
