-- source: Django (sqlmigrate)
-- class: 2
-- expect: same
-- why: CITextExtension then AddField: the type comes from the extension created one statement earlier
BEGIN;
--
-- Creates extension citext
--
CREATE EXTENSION IF NOT EXISTS "citext";
--
-- Add field handle to user
--
ALTER TABLE "users" ADD COLUMN "handle" citext NULL;
COMMIT;
