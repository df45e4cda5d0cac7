-- source: DBA
-- class: 3
-- expect: refused RETURNING; instead: dba_update_users_score.sql
-- why: RETURNING on a 200k-row UPDATE cannot be batched and still return its rows; refuse and name the same UPDATE without RETURNING
UPDATE users SET score = coalesce(score, 0) + 1 RETURNING id;
