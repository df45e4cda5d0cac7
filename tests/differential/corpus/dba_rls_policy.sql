-- source: DBA (Supabase-style row level security)
-- class: 8
-- expect: same
-- why: ENABLE ROW LEVEL SECURITY and CREATE POLICY are catalog changes under a brief lock: run them under lock_timeout
ALTER TABLE billing.invoices ENABLE ROW LEVEL SECURITY;
CREATE POLICY invoices_owner ON billing.invoices
    USING (user_id = nullif(current_setting('app.user_id', true), '')::bigint);
