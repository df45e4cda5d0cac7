-- squawk: adding-field-with-default. round(19.6, 1) is immutable: a fast default; no rewrite.
ALTER TABLE products ADD COLUMN tax_rate numeric(5, 2) NOT NULL DEFAULT round(19.6, 1);
