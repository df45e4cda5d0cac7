-- source: DBA
-- class: 3
-- expect: same
-- why: a whole-table UPDATE whose new value reads the old one: batch it, but every row exactly once (no catch-up pass may apply it twice)
UPDATE orders SET total_cents = total_cents * 100;
