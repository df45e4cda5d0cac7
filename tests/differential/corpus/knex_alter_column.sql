-- source: Knex (table.string('name', 200).nullable().alter())
-- class: 8
-- expect: same
-- why: Knex's .alter() always emits USING; widening varchar(100) to varchar(200) is binary coercible and rewrites nothing
alter table "users" alter column "name" drop default;
alter table "users" alter column "name" drop not null;
alter table "users" alter column "name" type varchar(200) using ("name"::varchar(200));
