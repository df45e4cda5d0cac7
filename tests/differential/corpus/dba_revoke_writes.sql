-- source: DBA
-- class: 9
-- expect: same
-- why: what to do today before dropping a table: revoke the application's writes and watch for errors
REVOKE INSERT, UPDATE, DELETE ON legacy_notes FROM app_rw;
