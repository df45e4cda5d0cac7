-- source: Django (sqlmigrate, DeleteModel), run once no app version uses the model
-- class: 9
-- expect: same
-- why: with -- convoy:contract DROP TABLE runs as written, under lock_timeout
-- convoy:contract
BEGIN;
--
-- Delete model LegacyNote
--
DROP TABLE "legacy_notes" CASCADE;
COMMIT;
