-- source: Alembic (upgrade --sql)
-- class: 3,5
-- expect: same
-- why: a column and FK on a table in another schema (Alembic's FOREIGN KEY(col) spacing); no index; alembic_version updated last
BEGIN;

-- Running upgrade ae1027a6acf -> 3b1f2c9d8e7a

ALTER TABLE billing.invoices ADD COLUMN org_id INTEGER;

ALTER TABLE billing.invoices ADD CONSTRAINT fk_invoices_org_id_orgs FOREIGN KEY(org_id) REFERENCES orgs (id);

UPDATE alembic_version SET version_num='3b1f2c9d8e7a' WHERE alembic_version.version_num = 'ae1027a6acf';

COMMIT;
