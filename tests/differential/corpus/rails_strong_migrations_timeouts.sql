-- source: Rails with strong_migrations (lock_timeout/statement_timeout set per migration, disable_ddl_transaction!)
-- class: 10
-- expect: same
-- lock_timeout_ms: 10000
-- why: the user's lock_timeout (10 s) and statement_timeout are within convoy's bounds and honoured; the CONCURRENTLY build runs as written
SET lock_timeout TO '10s';
SET statement_timeout TO '1h';
CREATE INDEX CONCURRENTLY "index_users_on_created_at" ON "users" ("created_at");
