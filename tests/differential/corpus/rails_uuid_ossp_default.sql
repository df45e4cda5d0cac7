-- source: Rails (enable_extension + add_column + change_column_default, from the migration log)
-- class: 2,3
-- expect: same
-- why: uuid_generate_v4() exists once the extension created earlier in the file does; SET DEFAULT only affects new rows
BEGIN;
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
ALTER TABLE "orgs" ADD "external_id" uuid;
ALTER TABLE "orgs" ALTER COLUMN "external_id" SET DEFAULT uuid_generate_v4();
INSERT INTO "schema_migrations" ("version") VALUES ('20240501120000') RETURNING "version";
COMMIT;
