-- source: DBA
-- class: 3
-- expect: same
-- why: the expand half of int -> bigint: a new bigint column and a full-table UPDATE copying the old one (a batched backfill)
ALTER TABLE orders ADD COLUMN total_cents_big bigint;
UPDATE orders SET total_cents_big = total_cents;
