-- source: TypeORM
-- class: 1
-- expect: same
-- why: a new table with "PK_"/"UQ_" names and a "FK_" to users ON DELETE CASCADE; the bookkeeping INSERT as written
CREATE TABLE "api_tokens" ("id" SERIAL NOT NULL, "token" character varying NOT NULL, "userId" bigint, "createdAt" TIMESTAMP NOT NULL DEFAULT now(), CONSTRAINT "UQ_2e1d3a0f1f4c5e9b8a7d6c5b4a3" UNIQUE ("token"), CONSTRAINT "PK_4e8a4d5b1d6c7f8e9a0b1c2d3e4" PRIMARY KEY ("id"));
ALTER TABLE "api_tokens" ADD CONSTRAINT "FK_9f1c2d3e4a5b6c7d8e9f0a1b2c3" FOREIGN KEY ("userId") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION;
INSERT INTO "migrations"("timestamp", "name") VALUES (1714560100000, 'AddApiTokens1714560100000');
