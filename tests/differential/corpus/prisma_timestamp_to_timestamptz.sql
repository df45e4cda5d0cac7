-- source: Prisma (@db.Timestamptz(3) added to a field)
-- class: 8
-- expect: refused rewrite; instead: prisma_timestamptz_expand.sql
-- why: timestamp(3) -> timestamptz(3) rewrites the table under psql (the precision cast is not simplified away); refuse and name the expand sequence
-- AlterTable
ALTER TABLE "Auth"."Session" ALTER COLUMN "expiresAt" SET DATA TYPE TIMESTAMPTZ(3);
