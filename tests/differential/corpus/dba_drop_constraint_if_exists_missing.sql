-- source: DBA
-- class: 7
-- expect: same
-- why: DROP CONSTRAINT IF EXISTS of a constraint that does not exist is a no-op
ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_total_check;
