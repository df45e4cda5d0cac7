-- source: Alembic (upgrade --sql, op.rename_table), marked as the contract step
-- class: 3,9
-- expect: same
-- why: with -- convoy:contract the rename runs under lock_timeout; alembic_version is updated after it
-- convoy:contract
BEGIN;

-- Running upgrade ae1027a6acf -> 4c2d8e1f0a9b

ALTER TABLE legacy_notes RENAME TO notes;

UPDATE alembic_version SET version_num='4c2d8e1f0a9b' WHERE alembic_version.version_num = 'ae1027a6acf';

COMMIT;
