-- source: DBA (before turning on Debezium)
-- class: 8
-- expect: same
-- why: REPLICA IDENTITY FULL is a catalog change under a brief lock; it rewrites nothing
ALTER TABLE orders REPLICA IDENTITY FULL;
