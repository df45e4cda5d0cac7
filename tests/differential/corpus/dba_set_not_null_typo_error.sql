-- source: DBA
-- class: 7
-- expect: error nmae; instead: dba_set_not_null_name.sql
-- why: a misspelt column is an error naming it; nothing is changed
ALTER TABLE users ALTER COLUMN nmae SET NOT NULL;
