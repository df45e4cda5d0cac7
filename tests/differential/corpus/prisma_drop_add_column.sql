-- source: Prisma (a renamed field: Prisma emits DROP + ADD)
-- class: 9
-- expect: refused DROP COLUMN; instead: prisma_drop_add_column_contract.sql
-- why: dropping "content" breaks the old app version: refuse and say what to do today (deploy without it, then -- convoy:contract, or add "body" and copy)
-- AlterTable
ALTER TABLE "Post" DROP COLUMN "content",
ADD COLUMN     "body" TEXT;
