-- source: Django (sqlmigrate, AddField with a default)
-- class: 0
-- expect: same
-- why: Django adds with a one-off DEFAULT and drops it: both metadata only, existing rows keep ''
BEGIN;
--
-- Add field nickname to user
--
ALTER TABLE "users" ADD COLUMN "nickname" varchar(50) DEFAULT '' NOT NULL;
ALTER TABLE "users" ALTER COLUMN "nickname" DROP DEFAULT;
COMMIT;
