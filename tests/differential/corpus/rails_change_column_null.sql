-- source: Rails (change_column_null :orders, :currency, false)
-- class: 0
-- expect: same
-- why: SET NOT NULL through CHECK NOT VALID + VALIDATE + SET NOT NULL; the helper check is dropped
ALTER TABLE "orders" ALTER COLUMN "currency" SET NOT NULL;
