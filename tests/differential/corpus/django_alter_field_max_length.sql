-- source: Django (sqlmigrate, AlterField max_length 64 -> 128)
-- class: 0
-- expect: same
-- why: widening varchar is binary coercible: metadata only, as the server's probe shows
BEGIN;
--
-- Alter field slug on org
--
ALTER TABLE "orgs" ALTER COLUMN "slug" TYPE varchar(128);
COMMIT;
