DROP INDEX hazards_nearby;
