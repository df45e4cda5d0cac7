-- source: DBA
-- class: 8,9
-- expect: same
-- why: dropping a CHECK only relaxes a rule (no app version breaks); a brief ACCESS EXCLUSIVE under lock_timeout
ALTER TABLE orders DROP CONSTRAINT orders_total_cents_check;
