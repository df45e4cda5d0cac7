-- source: TypeORM
-- class: 1
-- expect: same
-- why: CREATE UNIQUE INDEX CONCURRENTLY "UQ_..." then ADD CONSTRAINT "UQ_..." UNIQUE USING INDEX, both names quoted as written
ALTER TABLE "products" ADD CONSTRAINT "UQ_c44ac33a05b144dd0d9ddcf9327" UNIQUE ("sku");
