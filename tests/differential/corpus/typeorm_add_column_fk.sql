-- source: TypeORM
-- class: 1,5
-- expect: same
-- why: add the column, add "FK_..." (quoted) NOT VALID then VALIDATE, record the migration; no index TypeORM did not ask for
ALTER TABLE "orders" ADD "product_id" integer;
ALTER TABLE "orders" ADD CONSTRAINT "FK_a922b820eeef29ac1c6800e826a" FOREIGN KEY ("product_id") REFERENCES "products"("id") ON DELETE NO ACTION ON UPDATE NO ACTION;
INSERT INTO "migrations"("timestamp", "name") VALUES (1714560000000, 'AddOrderProduct1714560000000');
