-- source: DBA
-- class: 10
-- expect: same
-- lock_timeout_ms: 3000
-- why: SET lock_timeout = '3s' is within convoy's bounds: honoured for every step (the plan says 3 s), not dropped
SET lock_timeout = '3s';
ALTER TABLE users ADD COLUMN nickname varchar(50);
