-- source: DBA
-- class: 8
-- expect: same
-- why: DROP INDEX IF EXISTS a, b is split into one DROP INDEX CONCURRENTLY IF EXISTS per index
DROP INDEX IF EXISTS users_status_idx, page_views_path_idx;
