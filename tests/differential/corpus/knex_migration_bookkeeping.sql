-- source: Knex (migrate:latest --debug)
-- class: 3
-- expect: same
-- why: Knex's lock-table UPDATEs and migration INSERT are one-row bookkeeping: run as written around the metadata-only column
update "knex_migrations_lock" set "is_locked" = 1 where "is_locked" = 0;
alter table "orders" add column "tracking_number" varchar(255);
insert into "knex_migrations" ("batch", "migration_time", "name") values (3, '2024-05-01T10:00:00.000Z', '20240501100000_add_tracking_number.js');
update "knex_migrations_lock" set "is_locked" = 0;
