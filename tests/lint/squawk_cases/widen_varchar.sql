-- squawk: changing-column-type, prefer-text-field. users.status is varchar(20): widening to varchar(40) is binary-coercible, metadata only.
ALTER TABLE users ALTER COLUMN status TYPE varchar(40);
