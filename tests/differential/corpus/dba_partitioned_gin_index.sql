-- source: DBA
-- class: 4
-- expect: same
-- why: a GIN index with an operator class on a partitioned table: ON ONLY + CONCURRENTLY per partition + ATTACH, opclass kept everywhere
CREATE INDEX events_payload_idx ON events USING gin (payload jsonb_path_ops);
