-- source: DBA
-- class: 7
-- expect: error duplicate; instead: dba_unique_duplicates_fixed.sql
-- why: orders.status has duplicates: psql fails and rolls the whole file back; convoy must stop (exit 1 or 6) before it adds the column
BEGIN;
ALTER TABLE orders ADD COLUMN legacy_ref text;
CREATE UNIQUE INDEX orders_status_uniq ON orders (status);
COMMIT;
