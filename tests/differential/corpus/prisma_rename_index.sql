-- source: Prisma
-- class: 1,8
-- expect: same
-- why: ALTER INDEX ... RENAME is a brief catalog change that breaks no query; run it under lock_timeout with both names quoted
-- RenameIndex
ALTER INDEX "Post_slug_key" RENAME TO "Post_slug_unique";
