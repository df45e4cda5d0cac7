-- source: DBA
-- class: 3
-- expect: same
-- why: a 15k-row UPDATE with a WHERE on a non-key column: checkpointed batches by primary key, the WHERE kept as the guard
UPDATE orders SET status = 'archived' WHERE status = 'cancelled';
