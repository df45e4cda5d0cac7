-- source: Ecto (alter table with several add/modify, --log-migrations-sql)
-- class: 0
-- expect: same
-- why: one ALTER TABLE with several subcommands: each column metadata only, the CHECK through NOT VALID + VALIDATE, in order
ALTER TABLE "products" ADD COLUMN "weight_grams" integer DEFAULT 0 NOT NULL, ADD COLUMN "color" varchar(32), ADD CONSTRAINT "weight_grams_must_be_positive" CHECK (weight_grams >= 0);
