-- source: Django (sqlmigrate, AlterField on a model whose table has no primary key)
-- class: 3
-- expect: same
-- why: the same AlterField on a table without a primary key: the backfill must page without a key (or the UPDATE run as written)
BEGIN;
--
-- Alter field referrer on pageview
--
ALTER TABLE "page_views" ALTER COLUMN "referrer" SET DEFAULT '';
UPDATE "page_views" SET "referrer" = '' WHERE "referrer" IS NULL; SET CONSTRAINTS ALL IMMEDIATE;
ALTER TABLE "page_views" ALTER COLUMN "referrer" SET NOT NULL;
ALTER TABLE "page_views" ALTER COLUMN "referrer" DROP DEFAULT;
COMMIT;
