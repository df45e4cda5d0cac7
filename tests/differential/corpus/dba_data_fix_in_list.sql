-- source: DBA
-- class: 3
-- expect: same
-- why: a 3-row data fix by primary key on the big table is small: run it as written
UPDATE users SET status = 'banned' WHERE id IN (5, 10, 15);
