-- Lists scoped to one county, township or group walk a (tier id, case id) index that already
-- yields the newest cases first. Filtering the materialised path instead walks the primary key
-- past every newer case elsewhere (1.2 s for an old county in a province, see BENCHMARKS.md).
-- `county_id` and `group_id` exist; this adds the township, a copy of the group's ancestry
-- (regions are never re-parented). A village's few hundred cases are read by their path range.
ALTER TABLE hazards ADD COLUMN township_id BIGINT REFERENCES regions(id);
UPDATE hazards h SET township_id = v.parent_id
    FROM regions g JOIN regions v ON v.id = g.parent_id
    WHERE g.id = h.group_id;
ALTER TABLE hazards ALTER COLUMN township_id SET NOT NULL;

CREATE INDEX hazards_county_newest ON hazards(county_id, id);
CREATE INDEX hazards_township_newest ON hazards(township_id, id);
DROP INDEX hazards_group;
CREATE INDEX hazards_group_newest ON hazards(group_id, id);
