-- source: golang-migrate (000005_users_timezone.up.sql)
-- class: 7
-- expect: same
-- why: ADD COLUMN IF NOT EXISTS skips the existing legacy_flag and adds timezone; CREATE INDEX IF NOT EXISTS builds the new index
BEGIN;
ALTER TABLE users ADD COLUMN IF NOT EXISTS legacy_flag boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN IF NOT EXISTS timezone text NOT NULL DEFAULT 'UTC';
CREATE INDEX IF NOT EXISTS idx_users_timezone ON users (timezone);
COMMIT;
