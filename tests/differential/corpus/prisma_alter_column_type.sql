-- source: Prisma
-- class: 0
-- expect: refused rewrite; instead: dba_check_length_instead_of_type.sql
-- why: TEXT -> VARCHAR(200) must check every value and rewrites "Post"; refuse and name the CHECK NOT VALID + VALIDATE alternative
-- AlterTable
ALTER TABLE "Post" ALTER COLUMN "title" SET DATA TYPE VARCHAR(200);
