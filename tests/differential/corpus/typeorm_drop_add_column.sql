-- source: TypeORM (a changed column length: migration:generate emits DROP + ADD)
-- class: 2,9
-- expect: refused DROP COLUMN; instead: typeorm_alter_column_length.sql
-- why: DROP + ADD loses the column's data; refuse and name the in-place widening that rewrites nothing
ALTER TABLE "users" DROP COLUMN "phone";
ALTER TABLE "users" ADD "phone" character varying(64);
