-- source: DBA
-- class: 4
-- expect: same
-- why: a unique index on a partitioned parent (it includes the partition key): ON ONLY + CONCURRENTLY per partition + ATTACH
CREATE UNIQUE INDEX events_created_at_id_key ON events (created_at, id);
