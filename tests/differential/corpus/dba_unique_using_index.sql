-- source: DBA
-- class: 0
-- expect: same
-- why: the hand-written online UNIQUE: CONCURRENTLY, then ADD CONSTRAINT ... USING INDEX (which renames the index to the constraint)
CREATE UNIQUE INDEX CONCURRENTLY orgs_slug_uidx ON orgs (slug);
ALTER TABLE orgs ADD CONSTRAINT orgs_slug_unique UNIQUE USING INDEX orgs_slug_uidx;
