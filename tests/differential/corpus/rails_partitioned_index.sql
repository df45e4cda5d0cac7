-- source: Rails (add_index on a partitioned table, migration log)
-- class: 4
-- expect: same
-- why: a named index on a partitioned parent: ON ONLY parent + CONCURRENTLY per partition + ATTACH PARTITION, partition index names as psql gives them
CREATE INDEX "index_events_on_user_id" ON "events" ("user_id");
