-- Reports from the public (群众举报投诉, issue 12). A public report is a hazard case that starts
-- in `pending_verification`; what only a public report has lives here, one row per case (the
-- hazards table is at diesel's 32 columns). The reporter proves ownership with a secret of which
-- only the SHA-256 is kept; the contact is private to the staff handling the case and erased
-- some time after the case closes (contact_erased_at).
CREATE TABLE public_reports (
    hazard_id BIGINT PRIMARY KEY REFERENCES hazards(id),
    -- 10 characters of Crockford base32, readable over the phone.
    tracking_code TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('web','hotline_96119','hotline_12345','walk_in','open311')),
    -- What the reporter chose: a village or a group.
    region_id BIGINT NOT NULL REFERENCES regions(id),
    village_id BIGINT NOT NULL REFERENCES regions(id),
    contact_name TEXT,
    contact_phone TEXT,
    -- Staff who took a hotline or walk-in report; NULL for the web form and Open311.
    recorded_by BIGINT REFERENCES users(id),
    received_at TIMESTAMP NOT NULL,
    -- 青政办〔2016〕189号: a first response within 48 hours.
    first_response_due TIMESTAMP NOT NULL,
    first_response_at TIMESTAMP,
    first_response_reminded BOOLEAN NOT NULL DEFAULT FALSE,
    first_response_overdue BOOLEAN NOT NULL DEFAULT FALSE,
    -- The latest answer the reporter sees (reply_public, or reject_report's public_reason).
    public_reply TEXT,
    contact_erased_at TIMESTAMP
);
-- The first-response sweep reads only unanswered reports, by due time.
CREATE INDEX public_reports_unanswered ON public_reports(first_response_due)
    WHERE first_response_at IS NULL;

-- Fixed-window counters of public reports per client address and per contact phone (hashed):
-- one atomic upsert per report, shared by every server of the deployment.
CREATE TABLE public_throttle (
    bucket TEXT NOT NULL,
    window_start TIMESTAMP NOT NULL,
    hits INTEGER NOT NULL,
    PRIMARY KEY (bucket, window_start)
);

-- Idempotency-Key records of requests without an account (the public has no user id).
CREATE TABLE public_idempotency_keys (
    key TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    response TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX public_idempotency_keys_created ON public_idempotency_keys(created_at);
