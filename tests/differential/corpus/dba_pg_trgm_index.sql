-- source: DBA
-- class: 2
-- expect: same
-- why: the gin_trgm_ops operator class comes from the extension created first in the file; the CONCURRENTLY build needs it
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX CONCURRENTLY products_name_trgm_idx ON products USING gin (name gin_trgm_ops);
