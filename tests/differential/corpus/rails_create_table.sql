-- source: Rails (create_table with t.references and t.timestamps, migration log)
-- class: 0
-- expect: same
-- why: a new table with Rails' fk_rails_ constraint to users (brief lock) and its indexes, then schema_migrations
BEGIN;
CREATE TABLE "api_keys" ("id" bigserial primary key, "user_id" bigint NOT NULL, "token_digest" character varying NOT NULL, "created_at" timestamp(6) NOT NULL, "updated_at" timestamp(6) NOT NULL, CONSTRAINT "fk_rails_32c28d0dc2"
FOREIGN KEY ("user_id")
  REFERENCES "users" ("id")
);
CREATE INDEX "index_api_keys_on_user_id" ON "api_keys" ("user_id");
CREATE UNIQUE INDEX "index_api_keys_on_token_digest" ON "api_keys" ("token_digest");
INSERT INTO "schema_migrations" ("version") VALUES ('20240501130000') RETURNING "version";
COMMIT;
