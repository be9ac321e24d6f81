DROP TABLE sync_pruned;
DROP TABLE sync_marks;
