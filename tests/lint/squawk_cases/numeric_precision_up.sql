-- squawk: changing-column-type. products.price is numeric(10, 2): more precision at the same scale is binary-coercible, metadata only.
ALTER TABLE products ALTER COLUMN price TYPE numeric(12, 2);
