-- squawk: changing-column-type. users.phone is varchar(32): varchar -> text is binary-coercible, metadata only.
ALTER TABLE users ALTER COLUMN phone TYPE text;
