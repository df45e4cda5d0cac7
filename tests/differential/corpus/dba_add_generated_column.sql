-- source: DBA
-- class: 0
-- expect: refused GENERATED; instead: dba_add_column_then_update.sql
-- why: a STORED generated column rewrites the table under ACCESS EXCLUSIVE; refuse and name the column + backfill alternative
ALTER TABLE orders ADD COLUMN total_dollars numeric(12,2) GENERATED ALWAYS AS (total_cents / 100.0) STORED;
