-- source: DBA
-- class: 0
-- expect: refused bigserial; instead: dba_add_id_column_expand.sql
-- why: a bigserial column gives every row a sequence value: psql rewrites the table; refuse and name the column + sequence + default sequence
ALTER TABLE page_views ADD COLUMN id bigserial;
