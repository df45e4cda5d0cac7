-- source: Alembic (upgrade --sql)
-- class: 3
-- expect: same
-- why: the column is metadata only; the one-row alembic_version UPDATE by its key is a small bookkeeping change that runs as written, last
BEGIN;

-- Running upgrade ae1027a6acf -> 1975ea83b712

ALTER TABLE users ADD COLUMN nickname VARCHAR(50);

UPDATE alembic_version SET version_num='1975ea83b712' WHERE alembic_version.version_num = 'ae1027a6acf';

COMMIT;
