-- source: Ecto (modify :name, :string, null: false)
-- class: 0
-- expect: same
-- why: one ALTER TABLE with two commands: the widening TYPE is metadata only, SET NOT NULL goes through the check dance
ALTER TABLE "users" ALTER COLUMN "name" TYPE varchar(255), ALTER COLUMN "name" SET NOT NULL;
