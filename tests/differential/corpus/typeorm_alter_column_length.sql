-- source: TypeORM
-- class: 0
-- expect: same
-- why: varchar(32) -> varchar(64) is binary coercible: one metadata-only step, as the server's probe proves
ALTER TABLE "users" ALTER COLUMN "phone" TYPE character varying(64);
