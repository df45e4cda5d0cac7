-- source: Prisma
-- class: 1
-- expect: same
-- why: SET NOT NULL on a quoted mixed-case table/column via the check dance; DROP DEFAULT is metadata
-- AlterTable
ALTER TABLE "User" ALTER COLUMN "name" SET NOT NULL,
ALTER COLUMN "createdAt" DROP DEFAULT;
