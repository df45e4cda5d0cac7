-- source: DBA
-- class: 4
-- expect: same
-- why: a partitioned index cannot be dropped CONCURRENTLY; a plain DROP INDEX is catalog-only (brief locks on the parent and partitions)
DROP INDEX events_kind_created_idx;
