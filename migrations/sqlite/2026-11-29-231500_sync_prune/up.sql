-- Pruning the offline-sync log (issue 13). Its rows carry no time, so the sweep leaves a mark
-- at most once an hour: when, and the log position up to which every row was final then. Rows
-- up to the newest mark older than the retention period are deleted; `sync_pruned` says how
-- far (no row: never pruned). A phone whose cursor lies before that starts over.
CREATE TABLE sync_marks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    marked_at TIMESTAMP NOT NULL,
    txid BIGINT NOT NULL,
    pos BIGINT NOT NULL
);
CREATE INDEX sync_marks_at ON sync_marks(marked_at);
CREATE TABLE sync_pruned (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    txid BIGINT NOT NULL,
    pos BIGINT NOT NULL
);
