-- source: DBA
-- class: 8
-- expect: same
-- why: plain VACUUM (ANALYZE) takes SHARE UPDATE EXCLUSIVE and rewrites nothing; run it outside a transaction
VACUUM (ANALYZE) orders;
