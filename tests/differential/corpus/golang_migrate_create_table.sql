-- source: golang-migrate (000008_create_payments.up.sql)
-- class: 0
-- expect: same
-- why: CREATE TABLE IF NOT EXISTS in another schema with a FK to an existing table (brief lock), then its index
CREATE TABLE IF NOT EXISTS billing.payments (
    id BIGSERIAL PRIMARY KEY,
    invoice_id BIGINT NOT NULL REFERENCES billing.invoices (id),
    amount_cents INTEGER NOT NULL,
    received_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS payments_invoice_id_idx ON billing.payments (invoice_id);
