-- source: DBA
-- class: 6
-- expect: same
-- why: an unnamed index whose generated name passes 63 bytes is cut the way PostgreSQL's makeObjectName cuts it
ALTER TABLE orders ADD COLUMN fulfillment_warehouse_identifier text;
CREATE INDEX ON orders (fulfillment_warehouse_identifier, status, created_at, user_id);
