-- source: DBA
-- class: 1
-- expect: same
-- why: the no-rewrite length limit: a quoted CHECK NOT VALID, then VALIDATE (SHARE UPDATE EXCLUSIVE)
ALTER TABLE "Post" ADD CONSTRAINT "Post_title_length" CHECK (char_length("title") <= 200) NOT VALID;
ALTER TABLE "Post" VALIDATE CONSTRAINT "Post_title_length";
