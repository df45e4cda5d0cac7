-- source: Sequelize (queryInterface.changeColumn)
-- class: 8
-- expect: same
-- why: changeColumn restates the column: SET NOT NULL on a NOT NULL column and TYPE to the same type are no-ops, SET DEFAULT is metadata
ALTER TABLE "orders" ALTER COLUMN "status" SET NOT NULL;ALTER TABLE "orders" ALTER COLUMN "status" SET DEFAULT 'new';ALTER TABLE "orders" ALTER COLUMN "status" TYPE TEXT;
