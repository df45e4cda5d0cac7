-- source: DBA
-- class: 8
-- expect: same
-- why: ANALYZE takes SHARE UPDATE EXCLUSIVE (blocks no reads or writes); run it
ANALYZE users;
