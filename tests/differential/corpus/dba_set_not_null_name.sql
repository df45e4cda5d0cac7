-- source: DBA
-- class: 0
-- expect: same
-- why: SET NOT NULL on a fully populated column of the big table: CHECK NOT VALID, VALIDATE, SET NOT NULL, drop the helper
ALTER TABLE users ALTER COLUMN name SET NOT NULL;
