-- source: golang-migrate (000009_users_nickname.up.sql, corrected)
-- class: 7
-- expect: same
-- why: the corrected file: a metadata-only column and DROP INDEX CONCURRENTLY of the index that exists
BEGIN;
ALTER TABLE users ADD COLUMN nickname varchar(50);
DROP INDEX users_status_idx;
COMMIT;
