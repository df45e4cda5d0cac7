-- source: DBA
-- class: 1
-- expect: same
-- why: a quoted mixed-case index name in a non-public schema keeps its case and its schema
CREATE INDEX "Invoices_Status_IssuedAt" ON billing.invoices (status, issued_at);
