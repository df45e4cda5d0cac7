-- source: Prisma
-- class: 1,5
-- expect: same
-- why: Prisma adds no index for a relation on PostgreSQL; the FK goes NOT VALID + VALIDATE and nothing else appears (a warning may suggest the index)
-- AlterTable
ALTER TABLE "Post" ADD COLUMN     "editorId" INTEGER;

-- AddForeignKey
ALTER TABLE "Post" ADD CONSTRAINT "Post_editorId_fkey" FOREIGN KEY ("editorId") REFERENCES "User"("id") ON DELETE SET NULL ON UPDATE CASCADE;
