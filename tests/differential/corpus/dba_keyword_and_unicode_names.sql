-- source: DBA
-- class: 1,6
-- expect: same
-- why: reserved words, spaces and non-ASCII letters in quoted names keep their quoting; the unnamed index is "Post_Display Name_idx"
ALTER TABLE "Post" ADD COLUMN "Display Name" TEXT;
ALTER TABLE "User" ADD COLUMN "prénom" TEXT;
CREATE INDEX "select" ON "Post" ("published");
CREATE INDEX ON "Post" ("Display Name");
CREATE INDEX "User_prénom_idx" ON "User"("prénom");
