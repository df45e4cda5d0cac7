-- source: DBA
-- class: 4
-- expect: same
-- why: a new, empty partition: psql checks the DEFAULT partition's 100 rows; nothing else to make safe
CREATE TABLE events_2025_q1 PARTITION OF events
    FOR VALUES FROM ('2025-01-01 00:00:00+00') TO ('2025-04-01 00:00:00+00');
