-- source: Sequelize (queryInterface.addColumn with DataTypes.ENUM)
-- class: 2,3
-- expect: same
-- why: Sequelize wraps CREATE TYPE in a DO block; it locks no user table, and the column after it needs the type it creates
DO 'BEGIN CREATE TYPE "public"."enum_users_plan" AS ENUM(''free'', ''pro'', ''enterprise''); EXCEPTION WHEN duplicate_object THEN null; END';
ALTER TABLE "public"."users" ADD COLUMN "plan" "public"."enum_users_plan" DEFAULT 'free';
INSERT INTO "SequelizeMeta" ("name") VALUES ('20240501120000-add-user-plan.js') RETURNING "name";
