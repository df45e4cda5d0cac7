-- source: Rails (data migration with update_all on a join, logged SQL)
-- class: 3
-- expect: same
-- why: an UPDATE ... FROM touching ~120 of 60k rows: small by the server's estimate, run as written
UPDATE "orders" SET "note" = 'org 7' FROM "users" WHERE "users"."id" = "orders"."user_id" AND "users"."org_id" = 7 AND "orders"."note" IS NULL;
