-- source: Knex (migration with knex.raw-free builder calls, --debug output)
-- class: 3
-- expect: same
-- why: an UPDATE of ~29k rows of the big table becomes a batched backfill guarded by its WHERE; SET NOT NULL through check + VALIDATE
update "users" set "score" = 0 where "score" is null;
alter table "users" alter column "score" set default 0;
alter table "users" alter column "score" set not null;
