-- source: Ecto (create table with references, --log-migrations-sql)
-- class: 0
-- expect: same
-- why: a new table with a FK to orgs (brief lock) and Ecto's _index, all as written
CREATE TABLE "teams" ("id" bigserial, "name" varchar(255), "org_id" integer CONSTRAINT "teams_org_id_fkey" REFERENCES "orgs"("id"), "inserted_at" timestamp(0) NOT NULL, "updated_at" timestamp(0) NOT NULL, PRIMARY KEY ("id"));
CREATE INDEX "teams_org_id_index" ON "teams" ("org_id");
