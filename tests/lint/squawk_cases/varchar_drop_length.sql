-- squawk: changing-column-type. products.sku is varchar(32): dropping the length is binary-coercible, metadata only.
ALTER TABLE products ALTER COLUMN sku TYPE varchar;
