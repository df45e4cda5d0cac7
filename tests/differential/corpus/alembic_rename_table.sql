-- source: Alembic (upgrade --sql, op.rename_table)
-- class: 9
-- expect: refused RENAME; instead: alembic_rename_table_contract.sql
-- why: renaming a table breaks the running app version: refuse and say what to do today (-- convoy:contract once the old version is gone)
BEGIN;

-- Running upgrade ae1027a6acf -> 4c2d8e1f0a9b

ALTER TABLE legacy_notes RENAME TO notes;

UPDATE alembic_version SET version_num='4c2d8e1f0a9b' WHERE alembic_version.version_num = 'ae1027a6acf';

COMMIT;
