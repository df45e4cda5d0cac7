-- source: DBA
-- class: 6
-- expect: same
-- why: PostgreSQL names an index after its INCLUDE columns too: orders_user_id_total_cents_idx (not orders_user_id_idx1); INCLUDE kept
CREATE INDEX ON orders (user_id) INCLUDE (total_cents);
