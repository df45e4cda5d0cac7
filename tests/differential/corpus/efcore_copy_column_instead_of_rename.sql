-- source: EF Core (migration edited by hand: AddColumn + Sql("UPDATE ..."))
-- class: 1,3,9
-- expect: same
-- why: the expand half of a rename: a new quoted column and a copying UPDATE (a batched backfill); history row last
START TRANSACTION;

ALTER TABLE "Post" ADD "Headline" text;

UPDATE "Post" SET "Headline" = "title";

INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20240502120000_AddHeadline', '8.0.4');

COMMIT;
