-- source: DBA
-- class: 9
-- expect: same
-- why: what to do today before a DROP COLUMN: make the column optional so the new app version can stop writing it
ALTER TABLE users ALTER COLUMN legacy_flag DROP NOT NULL;
