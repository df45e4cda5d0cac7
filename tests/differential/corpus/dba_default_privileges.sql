-- source: DBA
-- class: 8
-- expect: same
-- why: ALTER DEFAULT PRIVILEGES and GRANT ... ON ALL TABLES IN SCHEMA touch only the catalog: pass them through
ALTER DEFAULT PRIVILEGES IN SCHEMA billing GRANT SELECT ON TABLES TO app_readonly;
GRANT SELECT ON ALL TABLES IN SCHEMA billing TO app_readonly;
