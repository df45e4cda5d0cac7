-- source: Django (sqlmigrate, AddField ForeignKey)
-- class: 0
-- expect: same
-- why: Django's DEFERRABLE INITIALLY DEFERRED FK (deferrability kept), SET CONSTRAINTS ignored, its own index built CONCURRENTLY
BEGIN;
--
-- Add field org to order
--
ALTER TABLE "orders" ADD COLUMN "org_id" integer NULL CONSTRAINT "orders_org_id_2b1a4f6e_fk_orgs_id" REFERENCES "orgs"("id") DEFERRABLE INITIALLY DEFERRED; SET CONSTRAINTS "orders_org_id_2b1a4f6e_fk_orgs_id" IMMEDIATE;
CREATE INDEX "orders_org_id_2b1a4f6e" ON "orders" ("org_id");
COMMIT;
