-- Possible duplicates (issue 12) are looked for on every read of an open case: the search is a
-- band of ±100 m of latitude within the county and category, so the index starts with that
-- band. The former (county_id, category, created_at) walked every case of the category in the
-- last 30 days; this one touches the few rows near the case (BENCHMARKS.md, side by side).
DROP INDEX hazards_nearby;
CREATE INDEX hazards_nearby ON hazards(county_id, category, lat);
