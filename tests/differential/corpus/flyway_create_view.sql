-- source: Flyway (R__open_invoices.sql, a repeatable migration)
-- class: 0
-- expect: same
-- why: CREATE OR REPLACE VIEW locks no table for long: passed through
CREATE OR REPLACE VIEW billing.open_invoices AS
    SELECT id, user_id, amount_cents, issued_at FROM billing.invoices WHERE status = 'open';
