-- source: Flyway (V8__invoice_due_at.sql)
-- class: 0
-- expect: same
-- why: schema-qualified column and index in another schema: metadata only + CONCURRENTLY
ALTER TABLE billing.invoices ADD COLUMN due_at timestamptz;
CREATE INDEX idx_invoices_due_at ON billing.invoices (due_at);
