-- source: TypeORM
-- class: 0
-- expect: same
-- why: TypeORM's ADD without COLUMN, NOT NULL with a constant default: metadata only
ALTER TABLE "users" ADD "timezone" character varying NOT NULL DEFAULT 'UTC';
