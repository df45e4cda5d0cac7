-- source: DBA
-- class: 8
-- expect: same
-- why: numeric(10,2) -> numeric(12,2) is binary coercible (same scale, more precision): metadata only, as the server's probe proves
ALTER TABLE products ALTER COLUMN price TYPE numeric(12,2);
