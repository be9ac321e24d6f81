DROP TABLE premises;
DROP INDEX role_assignments_one_leader;
ALTER TABLE regions DROP COLUMN supervisor_user_id;
