-- source: golang-migrate (000004_users_status_index.up.sql, run a second time)
-- class: 7
-- expect: same
-- why: IF NOT EXISTS on an index that exists is a no-op, exactly as in PostgreSQL, so a rerun succeeds and changes nothing
CREATE INDEX IF NOT EXISTS users_status_idx ON users (status);
