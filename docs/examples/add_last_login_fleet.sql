-- The seed's column, shipped through the coordinator: existing users get their sign-up
-- time as their last login (a backfill, in batches the replicas can keep up with); new
-- rows get now(), exactly as the plain ALTER would give them.
-- convoy:name add_last_login_fleet
-- convoy:backfill last_login = coalesce(created_at, now())
ALTER TABLE users
ADD COLUMN last_login TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL;
