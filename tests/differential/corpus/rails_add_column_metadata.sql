-- source: Rails (migration log)
-- class: 3
-- expect: same
-- why: fast-default column, then Rails' schema_migrations INSERT and ar_internal_metadata UPDATE by key, as written
BEGIN;
ALTER TABLE "users" ADD "locale" character varying DEFAULT 'en' NOT NULL;
INSERT INTO "schema_migrations" ("version") VALUES ('20240501120000') RETURNING "version";
UPDATE "ar_internal_metadata" SET "value" = 'production', "updated_at" = '2024-05-01 12:00:00.123456' WHERE "ar_internal_metadata"."key" = 'environment';
COMMIT;
