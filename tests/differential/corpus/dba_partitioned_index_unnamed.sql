-- source: DBA
-- class: 4,6
-- expect: same
-- why: CREATE INDEX ON ONLY events, one CONCURRENTLY build per partition, ATTACH each; names as PostgreSQL gives them (events_kind_idx, events_2024_q1_kind_idx, ...)
CREATE INDEX ON events (kind);
