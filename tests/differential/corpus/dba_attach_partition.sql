-- source: DBA
-- class: 4,8
-- expect: same
-- why: the textbook attach: a new table with a matching CHECK, then ATTACH PARTITION (SHARE UPDATE EXCLUSIVE on the parent, no scan)
CREATE TABLE events_2025_q2 (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE events_2025_q2 ADD CONSTRAINT events_2025_q2_range
    CHECK (created_at >= '2025-04-01 00:00:00+00' AND created_at < '2025-07-01 00:00:00+00');
ALTER TABLE events ATTACH PARTITION events_2025_q2
    FOR VALUES FROM ('2025-04-01 00:00:00+00') TO ('2025-07-01 00:00:00+00');
