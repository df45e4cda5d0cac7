-- source: DBA
-- class: 7
-- expect: error total_cents; instead: dba_check_violation_fixed.sql
-- why: rows violate the CHECK: psql fails and rolls the whole file back; convoy's pre-check must stop it (exit 1 or 6) before the column is added
BEGIN;
ALTER TABLE orders ADD COLUMN discount_cents integer;
ALTER TABLE orders ADD CONSTRAINT orders_total_cents_small CHECK (total_cents < 5000);
COMMIT;
