-- source: DBA
-- class: 1
-- expect: same
-- why: quoted mixed-case table and column: DROP NOT NULL and SET DEFAULT are metadata, names quoted
ALTER TABLE "Post" ALTER COLUMN "authorId" DROP NOT NULL;
ALTER TABLE "Post" ALTER COLUMN "published" SET DEFAULT true;
