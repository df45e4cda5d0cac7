-- source: DBA
-- class: 0
-- expect: same
-- why: COMMENT and GRANT are catalog-only: passed through as written
COMMENT ON TABLE billing.invoices IS 'one row per issued invoice';
COMMENT ON COLUMN users.email IS 'login, unique';
GRANT USAGE ON SCHEMA billing TO app_readonly;
GRANT SELECT ON billing.invoices TO app_readonly;
