-- source: DBA
-- class: 7
-- expect: error does not exist; instead: dba_drop_index.sql
-- why: a misspelt index without IF EXISTS is an error in PostgreSQL; convoy must fail too (exit 1) and change nothing, not report "applied"
DROP INDEX users_statsu_idx;
