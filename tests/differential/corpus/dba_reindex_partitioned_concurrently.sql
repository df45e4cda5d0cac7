-- source: DBA
-- class: 4,8
-- expect: same
-- why: REINDEX TABLE CONCURRENTLY on a partitioned table (PostgreSQL 14+) rebuilds each partition's indexes online: run as written
REINDEX TABLE CONCURRENTLY events;
