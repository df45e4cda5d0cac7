-- source: DBA
-- class: 4,8
-- expect: same
-- why: DETACH PARTITION ... CONCURRENTLY is already the online form (outside a transaction, SHARE UPDATE EXCLUSIVE); run it as written
ALTER TABLE measurements DETACH PARTITION measurements_apac CONCURRENTLY;
