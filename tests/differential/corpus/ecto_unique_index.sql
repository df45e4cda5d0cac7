-- source: Ecto (create unique_index(:orgs, [:slug]))
-- class: 0
-- expect: same
-- why: a unique index built CONCURRENTLY under Ecto's name
CREATE UNIQUE INDEX "orgs_slug_index" ON "orgs" ("slug");
