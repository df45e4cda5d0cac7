-- source: DBA
-- class: 5,6
-- expect: same
-- why: billing.invoices already has invoices_user_id_fkey, so PostgreSQL names this one invoices_user_id_fkey1; ON DELETE CASCADE kept; no index added
ALTER TABLE billing.invoices ADD FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
