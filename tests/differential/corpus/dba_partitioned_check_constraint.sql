-- source: DBA
-- class: 4
-- expect: same
-- why: a CHECK on a partitioned table: NOT VALID + VALIDATE reaches every partition, ends validated everywhere as psql's does
ALTER TABLE measurements ADD CONSTRAINT measurements_reading_check CHECK (reading >= 0);
