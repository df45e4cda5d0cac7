-- source: DBA
-- class: 8
-- expect: same
-- why: REFRESH MATERIALIZED VIEW CONCURRENTLY blocks no reader (EXCLUSIVE, not ACCESS EXCLUSIVE) and rewrites nothing: run it outside a transaction
REFRESH MATERIALIZED VIEW CONCURRENTLY org_user_counts;
