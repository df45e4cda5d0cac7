-- source: EF Core (dotnet ef migrations script)
-- class: 9
-- expect: refused RENAME; instead: efcore_rename_column_contract.sql
-- why: a rename breaks the running app version: refuse and say what to do today (-- convoy:contract once the old version is gone)
START TRANSACTION;

ALTER TABLE "Post" RENAME COLUMN "title" TO "Headline";

INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20240502120000_RenameTitle', '8.0.4');

COMMIT;
