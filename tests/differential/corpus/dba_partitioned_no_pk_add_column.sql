-- source: DBA
-- class: 4
-- expect: same
-- why: a nullable column on a list-partitioned table without a PK: metadata only on the parent and every partition
ALTER TABLE measurements ADD COLUMN unit text;
