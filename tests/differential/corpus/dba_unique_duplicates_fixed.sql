-- source: DBA
-- class: 7
-- expect: same
-- why: the corrected file: the column and a non-unique index (CONCURRENTLY)
BEGIN;
ALTER TABLE orders ADD COLUMN legacy_ref text;
CREATE INDEX orders_status_legacy_idx ON orders (status);
COMMIT;
