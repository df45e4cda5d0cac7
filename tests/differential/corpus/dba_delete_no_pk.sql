-- source: DBA
-- class: 3
-- expect: same
-- why: a DELETE of ~167 rows from a table without a primary key: small, run as written
DELETE FROM page_views WHERE path = '/p/7';
