-- source: Django (sqlmigrate, AddConstraint CheckConstraint)
-- class: 0
-- expect: same
-- why: CHECK via pre-check, NOT VALID, VALIDATE: ends validated, as psql's
BEGIN;
--
-- Create constraint price_non_negative on model product
--
ALTER TABLE "products" ADD CONSTRAINT "price_non_negative" CHECK ("price" >= 0);
COMMIT;
