-- Field work (issue 13): daily patrols of a group (每天防火巡查), village checks and monthly
-- township inspections (每月有针对性的巡查检查), one table for all three kinds.
CREATE TABLE patrols (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('patrol','village_check','township_inspection')),
    -- The group (patrol), village (village_check) or township (township_inspection).
    region_id BIGINT NOT NULL REFERENCES regions(id),
    region_path TEXT NOT NULL,
    theme TEXT,
    -- The day of started_at in FIREGRID_TZ (YYYY-MM-DD): what compliance counts.
    local_date TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP NOT NULL,
    -- When the server received it (a phone may send a day of patrols at once).
    recorded_at TIMESTAMP NOT NULL,
    recorded_by BIGINT NOT NULL REFERENCES users(id),
    -- GeoJSON LineString, as sent.
    track TEXT
);
CREATE INDEX patrols_region_day ON patrols(region_id, kind, local_date);
CREATE INDEX patrols_kind_day ON patrols(kind, local_date);
CREATE INDEX patrols_scope ON patrols(region_path, id);

CREATE TABLE patrol_checks (
    patrol_id BIGINT NOT NULL REFERENCES patrols(id),
    seq INTEGER NOT NULL,
    premises_id BIGINT NOT NULL REFERENCES premises(id),
    result TEXT NOT NULL CHECK (result IN ('ok','hazard_found','closed','unreachable')),
    note TEXT,
    PRIMARY KEY (patrol_id, seq)
);
CREATE INDEX patrol_checks_premises ON patrol_checks(premises_id);

-- Each premises remembers its latest check (by the patrol's start) and the kind of round.
ALTER TABLE premises ADD COLUMN last_checked_at TIMESTAMP;
ALTER TABLE premises ADD COLUMN last_check_kind TEXT;
CREATE INDEX premises_last_checked ON premises(last_checked_at);

-- The cases a round found (a case is found on at most one round).
CREATE TABLE patrol_hazards (
    hazard_id BIGINT PRIMARY KEY REFERENCES hazards(id),
    patrol_id BIGINT NOT NULL REFERENCES patrols(id)
);
CREATE INDEX patrol_hazards_patrol ON patrol_hazards(patrol_id);

-- One notice per run of missed patrol days of a group (run = first missed day), and one per
-- township and month without an inspection: the primary key decides "once" across servers.
CREATE TABLE patrol_alerts (
    group_id BIGINT NOT NULL REFERENCES regions(id),
    run_start TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (group_id, run_start)
);
CREATE TABLE inspection_alerts (
    township_id BIGINT NOT NULL REFERENCES regions(id),
    month TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (township_id, month)
);
