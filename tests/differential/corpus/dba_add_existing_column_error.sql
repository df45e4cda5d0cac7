-- source: DBA
-- class: 7
-- expect: error already exists; instead: golang_migrate_add_column_if_not_exists.sql
-- why: adding a column that exists, without IF NOT EXISTS, is an error in PostgreSQL and must be one in convoy
ALTER TABLE users ADD COLUMN legacy_flag boolean NOT NULL DEFAULT false;
