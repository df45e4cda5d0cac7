-- source: Sequelize (queryInterface.addColumn)
-- class: 0
-- expect: same
-- why: Sequelize quotes the schema: a nullable column, metadata only; "SequelizeMeta" INSERT as written
ALTER TABLE "public"."users" ADD COLUMN "locale" VARCHAR(255);
INSERT INTO "SequelizeMeta" ("name") VALUES ('20240501120500-add-user-locale.js') RETURNING "name";
