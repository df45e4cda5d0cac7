-- source: Prisma
-- class: 1
-- expect: same
-- why: build "User_email_key" CONCURRENTLY under exactly that quoted name, so Prisma's next migration can drop it
-- CreateIndex
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");
