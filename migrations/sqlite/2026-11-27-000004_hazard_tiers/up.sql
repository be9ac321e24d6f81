-- Lists scoped to one county, township or group walk a (tier id, case id) index that already
-- yields the newest cases first. Filtering the materialised path instead walks the primary key
-- past every newer case elsewhere (1.2 s for an old county in a province, see BENCHMARKS.md).
-- `county_id` and `group_id` exist; this adds the township. A village's few hundred cases are
-- read by their path range and sorted (diesel's 32-column tables leave room for one column).
--
-- The column is a copy of the group's ancestry (regions are never re-parented); SQLite cannot
-- add a REFERENCES column with a non-NULL default, so here the group's foreign key and the code
-- that inserts cases keep it right.
ALTER TABLE hazards ADD COLUMN township_id BIGINT NOT NULL DEFAULT 0;
UPDATE hazards SET township_id = (
    SELECT v.parent_id FROM regions g JOIN regions v ON v.id = g.parent_id
    WHERE g.id = hazards.group_id
);

CREATE INDEX hazards_county_newest ON hazards(county_id, id);
CREATE INDEX hazards_township_newest ON hazards(township_id, id);
DROP INDEX hazards_group;
CREATE INDEX hazards_group_newest ON hazards(group_id, id);
