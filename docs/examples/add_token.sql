-- A volatile default, NOT NULL and an index: convoy adds the column nullable,
-- sets the default for new rows, backfills existing rows in batches, proves
-- NOT NULL with a validated CHECK, and builds the index CONCURRENTLY.
-- convoy:name add_token
-- convoy:backfill display_name = coalesce(name, 'user ' || id)
ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid() NOT NULL;
ALTER TABLE users ADD COLUMN display_name text;
CREATE INDEX users_token_idx ON users (token);
