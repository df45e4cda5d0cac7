-- source: TypeORM
-- class: 1
-- expect: same
-- why: TypeORM's hashed "IDX_..." name is mixed case; the CONCURRENTLY build must keep it quoted
CREATE INDEX "IDX_78a916df40e02a9deb1c4b75ed" ON "orders" ("status") ;
