-- source: Prisma
-- class: 1
-- expect: same
-- why: drop "Post_slug_key" (mixed case, must be found as quoted) and build "Post_slug_title_key" CONCURRENTLY with its case kept
-- DropIndex
DROP INDEX "Post_slug_key";

-- CreateIndex
CREATE UNIQUE INDEX "Post_slug_title_key" ON "Post"("slug", "title");
