-- source: DBA
-- class: 7
-- expect: same
-- why: the index exists: DROP INDEX CONCURRENTLY of exactly that index
DROP INDEX users_status_idx;
