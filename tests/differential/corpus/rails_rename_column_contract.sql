-- source: Rails (rename_column, migration log), marked as the contract step
-- class: 9
-- expect: same
-- why: with -- convoy:contract a rename is a brief catalog change run under lock_timeout
-- convoy:contract
BEGIN;
ALTER TABLE "products" RENAME COLUMN "name" TO "title";
INSERT INTO "schema_migrations" ("version") VALUES ('20240502090000') RETURNING "version";
COMMIT;
