-- source: Prisma
-- class: 0
-- expect: same
-- why: a NOT NULL column with a constant default: metadata only
-- AlterTable
ALTER TABLE "Post" ADD COLUMN     "viewCount" INTEGER NOT NULL DEFAULT 0;
