-- source: DBA
-- class: 2,6
-- expect: same
-- why: both indexes want orders_lower_idx; PostgreSQL gives the second orders_lower_idx1, so the names depend on the file's own earlier statement
CREATE INDEX ON orders (lower(status));
CREATE INDEX ON orders (lower(note));
