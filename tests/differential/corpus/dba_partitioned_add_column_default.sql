-- source: DBA
-- class: 4
-- expect: same
-- why: a constant default on a partitioned table is metadata only on every partition
ALTER TABLE events ADD COLUMN source text NOT NULL DEFAULT 'web';
