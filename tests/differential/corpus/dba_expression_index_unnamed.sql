-- source: DBA
-- class: 6
-- expect: same
-- why: PostgreSQL names an expression index after the function: orders_lower_idx
CREATE INDEX ON orders (lower(status));
