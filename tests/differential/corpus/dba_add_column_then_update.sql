-- source: DBA
-- class: 3
-- expect: same
-- why: a full-table UPDATE of a column added just before is its backfill: batched, checkpointed, same values as psql
ALTER TABLE orders ADD COLUMN total_dollars numeric(12,2);
UPDATE orders SET total_dollars = total_cents / 100.0;
