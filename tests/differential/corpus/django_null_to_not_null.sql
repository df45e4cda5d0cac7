-- source: Django (sqlmigrate, AlterField null=True -> null=False with a default)
-- class: 3
-- expect: same
-- why: the UPDATE of ~67k NULL rows of the 200k-row table becomes a batched backfill with its WHERE; then the NOT NULL dance; the default is dropped
BEGIN;
--
-- Alter field bio on user
--
ALTER TABLE "users" ALTER COLUMN "bio" SET DEFAULT '';
UPDATE "users" SET "bio" = '' WHERE "bio" IS NULL; SET CONSTRAINTS ALL IMMEDIATE;
ALTER TABLE "users" ALTER COLUMN "bio" SET NOT NULL;
ALTER TABLE "users" ALTER COLUMN "bio" DROP DEFAULT;
COMMIT;
