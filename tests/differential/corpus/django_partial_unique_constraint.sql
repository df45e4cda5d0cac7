-- source: Django (sqlmigrate, AddConstraint UniqueConstraint(condition=...))
-- class: 0
-- expect: same
-- why: a conditional UniqueConstraint is a partial unique index: built CONCURRENTLY with its predicate
BEGIN;
--
-- Create constraint uniq_active_product_sku on model product
--
CREATE UNIQUE INDEX "uniq_active_product_sku" ON "products" ("sku") WHERE "active";
COMMIT;
