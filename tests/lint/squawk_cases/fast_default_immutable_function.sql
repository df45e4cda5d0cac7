-- squawk: adding-field-with-default. upper('none') is immutable: evaluated once, stored as the missing value; no rewrite.
ALTER TABLE users ADD COLUMN referral_code text NOT NULL DEFAULT upper('none');
