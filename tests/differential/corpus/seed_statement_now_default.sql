-- source: DBA (the project's seed statement)
-- class: 0
-- expect: same
-- why: PG11+ fast default: metadata only; every existing row gets the migration's now() (values compared as "set during the apply")
ALTER TABLE users ADD COLUMN last_login timestamptz DEFAULT now() NOT NULL;
