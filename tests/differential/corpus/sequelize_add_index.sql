-- source: Sequelize (queryInterface.addIndex)
-- class: 0
-- expect: same
-- why: Sequelize's name is quoted lower case; built CONCURRENTLY under that name
CREATE INDEX "orders_status_created_at" ON "orders" ("status", "created_at");
