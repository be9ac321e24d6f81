DROP TABLE stalled_deadlines;
