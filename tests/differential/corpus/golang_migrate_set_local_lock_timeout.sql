-- source: golang-migrate (000007_invoices_paid_at.up.sql)
-- class: 10
-- expect: same
-- lock_timeout_ms: 5000
-- why: SET LOCAL lock_timeout inside the file's transaction is honoured for the file's steps (5 s)
BEGIN;
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
ALTER TABLE billing.invoices ADD COLUMN paid_at timestamptz;
CREATE INDEX idx_invoices_paid_at ON billing.invoices (paid_at);
COMMIT;
