-- source: Alembic (upgrade --sql)
-- class: 3,4
-- expect: same
-- why: op.create_index on a partitioned table: per-partition CONCURRENTLY builds attached to the parent; then the version row
BEGIN;

-- Running upgrade ae1027a6acf -> 5d7e9f1a2b3c

CREATE INDEX ix_events_created_at_kind ON events (created_at, kind);

UPDATE alembic_version SET version_num='5d7e9f1a2b3c' WHERE alembic_version.version_num = 'ae1027a6acf';

COMMIT;
