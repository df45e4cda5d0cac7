-- source: DBA (the hand-written online index on a partitioned table)
-- class: 4
-- expect: same
-- why: the user already wrote ON ONLY + CONCURRENTLY per partition + ATTACH: run it as written; the parent index ends valid
CREATE INDEX measurements_sensor_idx ON ONLY measurements (sensor_id);
CREATE INDEX CONCURRENTLY measurements_eu_sensor_idx ON measurements_eu (sensor_id);
CREATE INDEX CONCURRENTLY measurements_us_sensor_idx ON measurements_us (sensor_id);
CREATE INDEX CONCURRENTLY measurements_apac_sensor_idx ON measurements_apac (sensor_id);
ALTER INDEX measurements_sensor_idx ATTACH PARTITION measurements_eu_sensor_idx;
ALTER INDEX measurements_sensor_idx ATTACH PARTITION measurements_us_sensor_idx;
ALTER INDEX measurements_sensor_idx ATTACH PARTITION measurements_apac_sensor_idx;
