DROP TABLE public_idempotency_keys;
DROP TABLE public_throttle;
DROP TABLE public_reports;
