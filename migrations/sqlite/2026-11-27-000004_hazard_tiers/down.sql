DROP INDEX hazards_group_newest;
CREATE INDEX hazards_group ON hazards(group_id);
DROP INDEX hazards_township_newest;
DROP INDEX hazards_county_newest;
ALTER TABLE hazards DROP COLUMN township_id;
