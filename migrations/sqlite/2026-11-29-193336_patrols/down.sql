DROP TABLE inspection_alerts;
DROP TABLE patrol_alerts;
DROP TABLE patrol_hazards;
DROP INDEX premises_last_checked;
ALTER TABLE premises DROP COLUMN last_check_kind;
ALTER TABLE premises DROP COLUMN last_checked_at;
DROP TABLE patrol_checks;
DROP TABLE patrols;
