-- source: DBA
-- class: 3,9
-- expect: same
-- why: the expand half of a column rename: new column plus a copying UPDATE (batched backfill); the old column stays for the old app
ALTER TABLE products ADD COLUMN title text;
UPDATE products SET title = name;
