-- Possible duplicates (issue 12): open cases of one category in a county, by receipt time,
-- within a box around a new report's position (hazards::duplicates).
CREATE INDEX hazards_nearby ON hazards(county_id, category, created_at);
