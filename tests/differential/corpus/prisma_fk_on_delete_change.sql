-- source: Prisma (onDelete: Cascade added to a relation)
-- class: 8,9
-- expect: same
-- why: replacing a FK's ON DELETE action is not a contract change: drop (brief) and re-add NOT VALID + VALIDATE under the same quoted name
-- DropForeignKey
ALTER TABLE "Post" DROP CONSTRAINT "Post_authorId_fkey";

-- AddForeignKey
ALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;
