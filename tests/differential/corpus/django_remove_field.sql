-- source: Django (sqlmigrate, RemoveField)
-- class: 9
-- expect: refused DROP COLUMN; instead: django_remove_field_contract.sql
-- why: without -- convoy:contract an old app version may still read the column: refuse and say what to do today (no promise of a phase that does not exist)
BEGIN;
--
-- Remove field legacy_flag from user
--
ALTER TABLE "users" DROP COLUMN "legacy_flag" CASCADE;
COMMIT;
