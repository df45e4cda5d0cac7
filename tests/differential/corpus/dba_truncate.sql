-- source: DBA
-- class: 0
-- expect: refused TRUNCATE; instead: dba_delete_no_pk.sql
-- why: TRUNCATE takes ACCESS EXCLUSIVE and destroys every row; refuse it
TRUNCATE page_views;
