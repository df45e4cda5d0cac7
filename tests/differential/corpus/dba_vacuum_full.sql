-- source: DBA
-- class: 0
-- expect: refused pg_repack; instead: dba_vacuum_analyze.sql
-- why: VACUUM FULL rewrites the table under ACCESS EXCLUSIVE for its whole run: refuse, point to pg_repack (or plain VACUUM)
VACUUM FULL orders;
