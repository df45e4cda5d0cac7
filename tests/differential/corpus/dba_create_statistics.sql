-- source: DBA
-- class: 8
-- expect: same
-- why: CREATE STATISTICS takes SHARE UPDATE EXCLUSIVE and rewrites nothing
CREATE STATISTICS orders_user_status_stats (dependencies) ON user_id, status FROM orders;
