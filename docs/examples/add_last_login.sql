-- The seed's statement, exactly as a user (or their ORM) writes it.
-- convoy:name add_last_login
ALTER TABLE users
ADD COLUMN last_login TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL;
