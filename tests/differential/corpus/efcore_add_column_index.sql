-- source: EF Core (dotnet ef migrations script)
-- class: 1,3
-- expect: same
-- why: fast-default column, "IX_Post_ViewCount" built CONCURRENTLY with its case, the history row inserted last
START TRANSACTION;

ALTER TABLE "Post" ADD "ViewCount" integer NOT NULL DEFAULT 0;

CREATE INDEX "IX_Post_ViewCount" ON "Post" ("ViewCount");

INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20240501120000_AddViewCount', '8.0.4');

COMMIT;
