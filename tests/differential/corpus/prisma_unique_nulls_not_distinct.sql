-- source: DBA (PostgreSQL 15 NULLS NOT DISTINCT on a Prisma table)
-- class: 1
-- expect: same
-- why: the CONCURRENTLY build keeps NULLS NOT DISTINCT and the quoted mixed-case name
CREATE UNIQUE INDEX "User_name_key" ON "User"("name") NULLS NOT DISTINCT;
