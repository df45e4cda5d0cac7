-- source: DBA
-- class: 8
-- expect: same
-- why: SET STATISTICS takes SHARE UPDATE EXCLUSIVE (blocks no reads or writes) and rewrites nothing
ALTER TABLE users ALTER COLUMN status SET STATISTICS 500;
