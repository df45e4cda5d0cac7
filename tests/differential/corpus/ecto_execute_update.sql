-- source: Ecto (mix ecto.migrate --log-migrations-sql)
-- class: 3
-- expect: same
-- why: execute("UPDATE ...") on a 500-row table: a small data change, as written, after the column it fills
ALTER TABLE "orgs" ADD COLUMN "billing_email" varchar(255);
UPDATE orgs SET billing_email = slug || '@billing.example' WHERE billing_email IS NULL;
