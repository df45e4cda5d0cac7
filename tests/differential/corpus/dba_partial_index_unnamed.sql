-- source: DBA
-- class: 6
-- expect: same
-- why: an unnamed partial index: users_created_at_idx with its predicate
CREATE INDEX ON users (created_at) WHERE status = 'active';
