-- source: Prisma (multiSchema)
-- class: 1
-- expect: same
-- why: index and column on a table in the quoted "Auth" schema: schema, table, column and index names all keep their case
-- AlterTable
ALTER TABLE "Auth"."Session" ADD COLUMN     "ipAddress" TEXT;

-- CreateIndex
CREATE INDEX "Session_userId_idx" ON "Auth"."Session"("userId");
