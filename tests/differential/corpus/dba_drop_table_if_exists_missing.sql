-- source: DBA
-- class: 7,9
-- expect: same
-- why: DROP TABLE IF EXISTS of a table that does not exist drops nothing: a no-op, not a contract-phase refusal
DROP TABLE IF EXISTS tmp_import_2023;
