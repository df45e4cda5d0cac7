-- source: DBA
-- class: 7
-- expect: same
-- why: DROP INDEX IF EXISTS of a missing index is a no-op (a notice), not an error
DROP INDEX IF EXISTS users_nickname_idx;
