DROP TABLE idempotency_keys;
DROP TABLE notifications;
DROP TABLE attachments;
DROP TABLE hazard_events;
DROP TABLE case_counters;
DROP TABLE hazards;
DROP FUNCTION firegrid_append_only();
