DROP INDEX hazards_nearby;
CREATE INDEX hazards_nearby ON hazards(county_id, category, created_at);
