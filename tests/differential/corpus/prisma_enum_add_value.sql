-- source: Prisma
-- class: 8
-- expect: same
-- why: ALTER TYPE ... ADD VALUE touches no table; run it
-- AlterEnum
ALTER TYPE "PostStatus" ADD VALUE 'ARCHIVED';
