-- squawk: adding-field-with-default. A constant expression is a PG11+ fast default: metadata only, no rewrite.
ALTER TABLE users ADD COLUMN quota_bytes bigint NOT NULL DEFAULT (2 * 1024 * 1024);
