-- Notifications that leave the building (issue 15). Every notification written also writes one
-- outbox event in the same transaction (one event per distinct case, kind and message, however
-- many staff were told), so an event is never lost and never invented. Each server's delivery
-- worker fans events out to the webhooks whose region or organisation covers where they
-- happened (one delivery row per webhook and event), then POSTs them with a lease, retrying
-- with back-off until the delivery window closes.

CREATE TABLE webhooks (
    id BIGSERIAL PRIMARY KEY,
    url TEXT NOT NULL,
    -- Needed to sign every delivery, so kept as given (never returned after creation).
    secret TEXT,
    -- Comma-separated notification kinds; empty means every kind (also those added later).
    kinds TEXT NOT NULL,
    format TEXT NOT NULL CHECK (format IN ('generic','wecom','dingtalk')),
    region_id BIGINT REFERENCES regions(id),
    organization_id BIGINT REFERENCES organizations(id),
    created_by BIGINT NOT NULL REFERENCES users(id),
    created_at TIMESTAMP NOT NULL,
    CHECK ((region_id IS NULL) <> (organization_id IS NULL))
);
CREATE INDEX webhooks_region ON webhooks(region_id);
CREATE INDEX webhooks_organization ON webhooks(organization_id);

CREATE TABLE notification_outbox (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    hazard_id BIGINT REFERENCES hazards(id),
    -- Where it happened: the case's group, else the deepest region all recipients live in.
    region_path TEXT COLLATE "C" NOT NULL,
    message TEXT NOT NULL,
    -- A JSON snapshot of the case as it was then (number, title, status, level), or NULL.
    subject TEXT,
    created_at TIMESTAMP NOT NULL,
    -- Set once the worker has written the event's deliveries.
    dispatched_at TIMESTAMP
);
CREATE INDEX notification_outbox_undispatched ON notification_outbox(id) WHERE dispatched_at IS NULL;
CREATE INDEX notification_outbox_dispatched ON notification_outbox(dispatched_at);

CREATE TABLE webhook_deliveries (
    id BIGSERIAL PRIMARY KEY,
    -- Sent as X-Firegrid-Delivery: receivers de-duplicate on it.
    delivery_id TEXT NOT NULL UNIQUE,
    webhook_id BIGINT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    outbox_id BIGINT NOT NULL REFERENCES notification_outbox(id),
    status TEXT NOT NULL CHECK (status IN ('pending','delivered','failed')),
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    -- The lease of the server delivering it now; another server may take it once it passes.
    locked_until TIMESTAMP,
    last_status INTEGER,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    UNIQUE (webhook_id, outbox_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_outbox ON webhook_deliveries(outbox_id);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries(webhook_id, id);
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries(finished_at);
