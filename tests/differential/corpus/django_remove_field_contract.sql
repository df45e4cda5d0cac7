-- source: Django (sqlmigrate, RemoveField), run after the app version without the field is deployed
-- class: 9
-- expect: same
-- why: with -- convoy:contract the user says the old version is gone: DROP COLUMN is metadata only, a brief lock under lock_timeout
-- convoy:contract
BEGIN;
--
-- Remove field legacy_flag from user
--
ALTER TABLE "users" DROP COLUMN "legacy_flag" CASCADE;
COMMIT;
