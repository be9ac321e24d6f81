-- A photo added to a public report has no uploading account: its reporter proved ownership
-- with the report's secret. NULL here means "the reporter".
ALTER TABLE attachments ALTER COLUMN uploaded_by DROP NOT NULL;

-- Resumable photo uploads (tus 1.0.0). The state lives here and in the photo directory, never
-- in one server's memory: a PATCH may land on another server than the POST that created it.
CREATE TABLE uploads (
    -- 128 random bits, hex: the upload URL's last segment.
    id TEXT PRIMARY KEY NOT NULL,
    hazard_id BIGINT NOT NULL REFERENCES hazards(id),
    -- The staff account that created it; NULL for a reporter holding the report's secret.
    created_by BIGINT REFERENCES users(id),
    length BIGINT NOT NULL,
    -- Bytes received and safely on disk ("offset" is a reserved word).
    upload_offset BIGINT NOT NULL DEFAULT 0,
    -- The Upload-Metadata header as sent, echoed on HEAD.
    metadata TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    -- The PATCH writing now (its token) and its last progress: one writer at a time.
    lease TEXT,
    lease_at TIMESTAMP,
    completed_at TIMESTAMP,
    attachment_id BIGINT REFERENCES attachments(id)
);
CREATE INDEX uploads_expires ON uploads(expires_at);

-- Each PATCH writes a file of its own from its start offset; the upload's bytes are these
-- files in order, each up to the next one's start (the last up to upload_offset).
CREATE TABLE upload_segments (
    upload_id TEXT NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    start_offset BIGINT NOT NULL,
    file TEXT NOT NULL,
    PRIMARY KEY (upload_id, start_offset)
);
