-- source: DBA
-- class: 8
-- expect: same
-- why: the textbook NOT NULL on the big table; the last step drops the file's own helper CHECK and must not be refused
ALTER TABLE users ADD CONSTRAINT users_updated_at_not_null CHECK (updated_at IS NOT NULL) NOT VALID;
ALTER TABLE users VALIDATE CONSTRAINT users_updated_at_not_null;
ALTER TABLE users ALTER COLUMN updated_at SET NOT NULL;
ALTER TABLE users DROP CONSTRAINT users_updated_at_not_null;
