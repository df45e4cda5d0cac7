-- source: Rails (add_reference :orders, :org, foreign_key: true, migration log)
-- class: 0
-- expect: same
-- why: column, Rails' index (CONCURRENTLY) and fk_rails_ constraint (NOT VALID + VALIDATE), each exactly once
BEGIN;
ALTER TABLE "orders" ADD "org_id" bigint;
CREATE INDEX "index_orders_on_org_id" ON "orders" ("org_id");
ALTER TABLE "orders" ADD CONSTRAINT "fk_rails_5a7f9b3c21"
FOREIGN KEY ("org_id")
  REFERENCES "orgs" ("id")
;
COMMIT;
