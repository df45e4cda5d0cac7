-- source: DBA
-- class: 0
-- expect: refused rewrite; instead: dba_expand_bigint_column.sql
-- why: integer -> bigint rewrites the table under ACCESS EXCLUSIVE; refuse, naming the expand sequence
ALTER TABLE orders ALTER COLUMN total_cents TYPE bigint;
