-- source: DBA
-- class: 6
-- expect: same
-- why: PostgreSQL names an unnamed unique index users_email_idx (not users_email_key, which the UNIQUE constraint already holds)
CREATE UNIQUE INDEX ON users (email);
