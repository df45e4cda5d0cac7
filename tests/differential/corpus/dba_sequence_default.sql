-- source: DBA
-- class: 2
-- expect: same
-- why: nextval() of a sequence the file creates; probing must not advance the sequence (sequences are not transactional)
CREATE SEQUENCE billing.invoice_number_seq START WITH 100000;
ALTER TABLE billing.invoices ADD COLUMN number bigint;
ALTER TABLE billing.invoices ALTER COLUMN number SET DEFAULT nextval('billing.invoice_number_seq');
