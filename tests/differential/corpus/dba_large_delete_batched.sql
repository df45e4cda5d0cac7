-- source: DBA
-- class: 3
-- expect: same
-- why: a DELETE of a quarter of orders (15k rows) becomes checkpointed batches by primary key with the WHERE as guard: the same rows go
DELETE FROM orders WHERE status = 'cancelled';
