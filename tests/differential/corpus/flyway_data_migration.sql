-- source: Flyway (V7__mark_legacy_orders.sql)
-- class: 3
-- expect: same
-- why: an UPDATE with a selective WHERE (288 of 60k rows): small, run as written or batched with the WHERE as guard
UPDATE orders SET note = 'legacy' WHERE created_at < '2024-01-02 00:00:00+00' AND note IS NULL;
