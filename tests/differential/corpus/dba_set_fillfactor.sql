-- source: DBA
-- class: 8
-- expect: same
-- why: SET (fillfactor) changes a reloption under SHARE UPDATE EXCLUSIVE; it rewrites nothing
ALTER TABLE orders SET (fillfactor = 90);
