-- source: Rails (rename_column, migration log)
-- class: 9
-- expect: refused RENAME; instead: rails_rename_column_contract.sql
-- why: a rename breaks the running app version: refuse and say what to do today (deploy without the old name, then -- convoy:contract)
BEGIN;
ALTER TABLE "products" RENAME COLUMN "name" TO "title";
INSERT INTO "schema_migrations" ("version") VALUES ('20240502090000') RETURNING "version";
COMMIT;
