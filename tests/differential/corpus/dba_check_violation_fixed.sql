-- source: DBA
-- class: 7
-- expect: same
-- why: the corrected file: the column and a CHECK every row meets (pre-check, NOT VALID, VALIDATE)
BEGIN;
ALTER TABLE orders ADD COLUMN discount_cents integer;
ALTER TABLE orders ADD CONSTRAINT orders_total_cents_small CHECK (total_cents < 50000);
COMMIT;
