-- source: Django (sqlmigrate, AlterUniqueTogether)
-- class: 0
-- expect: same
-- why: UNIQUE constraint via CREATE UNIQUE INDEX CONCURRENTLY + ADD CONSTRAINT ... USING INDEX, under Django's name
BEGIN;
--
-- Alter unique_together for order (1 constraint(s))
--
ALTER TABLE "orders" ADD CONSTRAINT "orders_user_id_created_at_4f2e9a1b_uniq" UNIQUE ("user_id", "created_at");
COMMIT;
