-- source: Prisma
-- class: 1
-- expect: same
-- why: add "lastLoginAt" (metadata only) and build "User_lastLoginAt_idx" CONCURRENTLY on the quoted column
-- AlterTable
ALTER TABLE "User" ADD COLUMN     "lastLoginAt" TIMESTAMP(3);

-- CreateIndex
CREATE INDEX "User_lastLoginAt_idx" ON "User"("lastLoginAt");
