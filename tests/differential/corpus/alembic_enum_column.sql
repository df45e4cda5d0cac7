-- source: Alembic (upgrade --sql)
-- class: 2,3
-- expect: same
-- why: sa.Enum creates the type first; the NOT NULL column with a constant default is metadata only; alembic_version updated last
BEGIN;

-- Running upgrade ae1027a6acf -> 27c6a30d7c24

CREATE TYPE invoicekind AS ENUM ('standard', 'credit');

ALTER TABLE billing.invoices ADD COLUMN kind invoicekind DEFAULT 'standard' NOT NULL;

UPDATE alembic_version SET version_num='27c6a30d7c24' WHERE alembic_version.version_num = 'ae1027a6acf';

COMMIT;
