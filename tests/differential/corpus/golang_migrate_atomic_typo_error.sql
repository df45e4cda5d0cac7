-- source: golang-migrate (000009_users_nickname.up.sql, with a misspelt index)
-- class: 7
-- expect: error does not exist; instead: golang_migrate_atomic_fixed.sql
-- why: psql rolls the whole transaction back at the missing index; convoy must find the error before it adds the column, and change nothing
BEGIN;
ALTER TABLE users ADD COLUMN nickname varchar(50);
DROP INDEX users_statsu_idx;
COMMIT;
