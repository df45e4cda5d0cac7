-- squawk: adding-field-with-default. concat() is stable, not volatile: a fast default like now(); no rewrite.
ALTER TABLE products ADD COLUMN display_label text NOT NULL DEFAULT concat('SKU', '-', 'none');
