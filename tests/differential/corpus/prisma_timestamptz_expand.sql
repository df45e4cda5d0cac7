-- source: Prisma (migrate dev --create-only, edited to expand instead of converting in place)
-- class: 1,3
-- expect: same
-- why: the expand half of a type change: a new timestamptz column on the quoted "Auth"."Session" and a copying UPDATE
-- AlterTable
ALTER TABLE "Auth"."Session" ADD COLUMN     "expiresAtTz" TIMESTAMPTZ(3);

UPDATE "Auth"."Session" SET "expiresAtTz" = "expiresAt";
