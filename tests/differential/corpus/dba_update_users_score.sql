-- source: DBA
-- class: 3
-- expect: same
-- why: a whole-table UPDATE of the 200k-row table whose value reads the old one: checkpointed batches by primary key, each row exactly once
UPDATE users SET score = coalesce(score, 0) + 1;
