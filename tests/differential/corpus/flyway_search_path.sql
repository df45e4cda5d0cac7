-- source: Flyway (V9__invoice_memo.sql in a schema-per-service setup)
-- class: 10
-- expect: same
-- why: under the file's SET search_path, invoices is billing.invoices; ignoring the SET would fail (there is no public.invoices)
SET search_path TO billing, public;
ALTER TABLE invoices ADD COLUMN memo text;
CREATE INDEX invoices_memo_idx ON invoices (memo);
