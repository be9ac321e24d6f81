-- Statistics (issue 14) ask which cases of a region ever had a deadline lapse: the timeline's
-- `deadline_expired` events, a few percent of all events. A partial index holds just those,
-- so one join answers for a whole province instead of a probe per case.
CREATE INDEX hazard_events_lapsed ON hazard_events(hazard_id) WHERE action = 'deadline_expired';
