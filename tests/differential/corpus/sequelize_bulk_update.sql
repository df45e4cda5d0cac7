-- source: Sequelize (queryInterface.bulkUpdate)
-- class: 3
-- expect: same
-- why: a 3-row UPDATE by primary key: runs as written
UPDATE "products" SET "active"=false WHERE "id" IN (1, 2, 3);
