-- source: DBA
-- class: 0
-- expect: same
-- why: MATCH FULL, ON DELETE SET NULL (column list, PostgreSQL 15) and DEFERRABLE INITIALLY IMMEDIATE survive NOT VALID + VALIDATE
ALTER TABLE billing.invoices ADD COLUMN org_id integer;
ALTER TABLE billing.invoices ADD CONSTRAINT invoices_org_fk FOREIGN KEY (org_id) REFERENCES orgs (id)
    MATCH FULL ON DELETE SET NULL (org_id) DEFERRABLE INITIALLY IMMEDIATE;
