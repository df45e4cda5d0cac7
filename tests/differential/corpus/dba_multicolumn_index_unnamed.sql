-- source: DBA
-- class: 6
-- expect: same
-- why: an unnamed two-column index with a DESC column: orders_user_id_created_at_idx, ordering kept
CREATE INDEX ON orders (user_id, created_at DESC);
