-- source: DBA
-- class: 5
-- expect: same
-- why: the hand-written safe FK on a table without a PK; it is already NOT VALID + VALIDATE, so convoy adds nothing (no index)
ALTER TABLE page_views ADD CONSTRAINT page_views_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;
ALTER TABLE page_views VALIDATE CONSTRAINT page_views_user_id_fkey;
