-- source: Django (sqlmigrate, AddField db_index=True on a CharField)
-- class: 0
-- expect: same
-- why: both of Django's indexes built CONCURRENTLY, the second with its varchar_pattern_ops operator class kept
BEGIN;
--
-- Add field nickname to user
--
ALTER TABLE "users" ADD COLUMN "nickname" varchar(50) NULL;
CREATE INDEX "users_nickname_8f1d5b49" ON "users" ("nickname");
CREATE INDEX "users_nickname_8f1d5b49_like" ON "users" ("nickname" varchar_pattern_ops);
COMMIT;
