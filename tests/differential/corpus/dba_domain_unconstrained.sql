-- source: DBA
-- class: 2
-- expect: same
-- why: a domain without constraints, created earlier in the file: adding a nullable column of it is metadata only
CREATE DOMAIN public.sku_code AS varchar(32);
ALTER TABLE products ADD COLUMN vendor_sku public.sku_code;
