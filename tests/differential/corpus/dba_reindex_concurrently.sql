-- source: DBA
-- class: 8
-- expect: same
-- why: REINDEX INDEX CONCURRENTLY is already the online form; run it as written (outside a transaction)
REINDEX INDEX CONCURRENTLY users_status_idx;
