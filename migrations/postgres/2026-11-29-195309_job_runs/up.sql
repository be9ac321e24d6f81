-- The last run of each background job (the deadline sweep), shared by every server over the
-- database, so that /readyz on any server tells when the job last succeeded anywhere.
CREATE TABLE job_runs (
    job TEXT PRIMARY KEY,
    last_success_at TIMESTAMP,
    last_duration_ms BIGINT,
    last_failure_at TIMESTAMP,
    last_error TEXT
);
