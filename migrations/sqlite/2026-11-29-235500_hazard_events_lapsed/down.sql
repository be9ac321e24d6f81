DROP INDEX hazard_events_lapsed;
