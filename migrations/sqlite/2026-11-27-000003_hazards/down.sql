DROP TABLE idempotency_keys;
DROP TABLE notifications;
DROP TABLE attachments;
DROP TRIGGER hazard_events_no_delete;
DROP TRIGGER hazard_events_no_update;
DROP TABLE hazard_events;
DROP TABLE case_counters;
DROP TABLE hazards;
