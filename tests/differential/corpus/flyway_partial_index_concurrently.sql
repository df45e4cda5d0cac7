-- source: Flyway (V10__orders_pending_index.sql, a non-transactional migration)
-- class: 7
-- expect: same
-- why: CONCURRENTLY IF NOT EXISTS of a new partial index: built as written, predicate kept
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_orders_pending ON orders (created_at) WHERE status = 'pending';
