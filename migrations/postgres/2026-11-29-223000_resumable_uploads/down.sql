DROP TABLE upload_segments;
DROP TABLE uploads;
DELETE FROM attachments WHERE uploaded_by IS NULL;
ALTER TABLE attachments ALTER COLUMN uploaded_by SET NOT NULL;
