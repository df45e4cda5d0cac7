-- source: Prisma (migrate dev --create-only, edited by hand to copy the data)
-- class: 3,9
-- expect: same
-- why: what Prisma's docs tell you to write instead of DROP + ADD: add the new column and copy the data
-- AlterTable
ALTER TABLE "Post" ADD COLUMN     "body" TEXT;

UPDATE "Post" SET "body" = "content";
