DROP TRIGGER sync_regions ON regions;
DROP TRIGGER sync_premises ON premises;
DROP TRIGGER sync_roster ON role_assignments;
DROP TRIGGER sync_hazards ON hazards;
DROP TRIGGER sync_events ON hazard_events;
DROP TRIGGER sync_notifications ON notifications;
DROP FUNCTION firegrid_sync_log();
DROP TABLE sync_log;
