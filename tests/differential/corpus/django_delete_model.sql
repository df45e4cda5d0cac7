-- source: Django (sqlmigrate, DeleteModel)
-- class: 9
-- expect: refused DROP TABLE; instead: django_delete_model_contract.sql
-- why: refuse dropping a table an old app version may still use; say what to do today (stop its reads and writes, then -- convoy:contract)
BEGIN;
--
-- Delete model LegacyNote
--
DROP TABLE "legacy_notes" CASCADE;
COMMIT;
