-- source: DBA
-- class: 7
-- expect: same
-- why: CONCURRENTLY IF NOT EXISTS of a new index: build it (already the online form)
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_status_idx ON orders (status);
