-- source: Prisma
-- class: 2
-- expect: same
-- why: the probes must see the enum the file creates first; then the column is a fast default (metadata only)
-- CreateEnum
CREATE TYPE "public"."Role" AS ENUM ('USER', 'ADMIN');

-- AlterTable
ALTER TABLE "public"."User" ADD COLUMN     "role" "public"."Role" NOT NULL DEFAULT 'USER';
