-- A case whose deadline passed at a township that has no police station cannot move up
-- (issue 10, item 13). It keeps its deadline, so it stays visibly overdue; one row per (case,
-- deadline) records that the county and the township were told, so the sweep does not tell
-- them again on every pass. The primary key is the guard: of two servers sweeping at once,
-- only the one whose INSERT lands notifies. A new deadline is a new expiry and a new notice.
CREATE TABLE stalled_deadlines (
    hazard_id BIGINT NOT NULL REFERENCES hazards(id),
    deadline TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (hazard_id, deadline)
);
