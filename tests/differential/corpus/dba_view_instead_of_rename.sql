-- source: DBA
-- class: 9
-- expect: same
-- why: the new name as an updatable view over the old table: both app versions work
CREATE VIEW notes AS SELECT * FROM legacy_notes;
