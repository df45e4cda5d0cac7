-- source: Knex (knex.schema.alterTable(t => t.index("created_at")), statement pasted without a semicolon)
-- class: 0
-- expect: same
-- why: the last statement has no semicolon; psql runs it at end of file and so must convoy
create index "users_created_at_index" on "users" ("created_at")