-- source: Prisma (a renamed field: DROP + ADD), marked as the contract step
-- class: 1,9
-- expect: same
-- why: with -- convoy:contract the DROP runs (metadata only) and the ADD is metadata only, both on the quoted "Post"
-- convoy:contract
-- AlterTable
ALTER TABLE "Post" DROP COLUMN "content",
ADD COLUMN     "body" TEXT;
