-- Open311 GeoReport v2 (issue 12): the keys administrators issue to civic apps, and which key
-- posted which public report. A key belongs to one county (its jurisdiction_id); only its
-- SHA-256 is kept (the key is 192 random bits, shown once). A revoked key stays, so that the
-- reports it posted still name it.
CREATE TABLE open311_keys (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    county_id BIGINT NOT NULL REFERENCES regions(id),
    key_hash TEXT NOT NULL UNIQUE,
    -- The key's first characters, to tell keys apart in lists.
    prefix TEXT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES users(id),
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    revoked_by BIGINT REFERENCES users(id)
);
CREATE INDEX open311_keys_county ON open311_keys(county_id);

-- The reports posted through Open311: what GET /open311/v2/requests lists, per county and by
-- time received (copied from the case and its report, which never change them).
CREATE TABLE open311_requests (
    hazard_id BIGINT PRIMARY KEY REFERENCES public_reports(hazard_id),
    key_id BIGINT NOT NULL REFERENCES open311_keys(id),
    county_id BIGINT NOT NULL REFERENCES regions(id),
    received_at TIMESTAMP NOT NULL
);
CREATE INDEX open311_requests_key ON open311_requests(key_id);
CREATE INDEX open311_requests_county ON open311_requests(county_id, received_at);
