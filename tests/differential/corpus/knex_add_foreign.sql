-- source: Knex (table.integer('org_id').references('orgs.id').onDelete('SET NULL'))
-- class: 5
-- expect: same
-- why: Knex's FK with ON DELETE SET NULL and no index: NOT VALID + VALIDATE, the action kept, no extra index
alter table "orders" add column "org_id" integer;
alter table "orders" add constraint "orders_org_id_foreign" foreign key ("org_id") references "orgs" ("id") on delete SET NULL;
