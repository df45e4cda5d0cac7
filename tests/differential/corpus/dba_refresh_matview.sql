-- source: DBA
-- class: 8
-- expect: refused CONCURRENTLY; instead: dba_refresh_matview_concurrently.sql
-- why: a plain REFRESH rewrites the view under ACCESS EXCLUSIVE, blocking every reader: refuse and name the CONCURRENTLY form
REFRESH MATERIALIZED VIEW org_user_counts;
