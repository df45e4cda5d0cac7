-- source: EF Core (dotnet ef migrations script), marked as the contract step
-- class: 1,9
-- expect: same
-- why: with -- convoy:contract the quoted rename runs under lock_timeout; the history row after it
-- convoy:contract
START TRANSACTION;

ALTER TABLE "Post" RENAME COLUMN "title" TO "Headline";

INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20240502120000_RenameTitle', '8.0.4');

COMMIT;
