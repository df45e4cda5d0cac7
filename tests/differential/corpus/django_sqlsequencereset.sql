-- source: Django (sqlsequencereset, after a data load)
-- class: 8
-- expect: same
-- why: a SELECT setval(...) reads the table and moves its sequence; no lock beyond ACCESS SHARE: run it as written
BEGIN;
SELECT setval(pg_get_serial_sequence('"orgs"','id'), coalesce(max("id"), 1), max("id") IS NOT null) FROM "orgs";
SELECT setval(pg_get_serial_sequence('"legacy_notes"','id'), 1000, false);
COMMIT;
