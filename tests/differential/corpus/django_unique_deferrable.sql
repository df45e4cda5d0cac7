-- source: Django (sqlmigrate, AddConstraint UniqueConstraint(deferrable=Deferrable.DEFERRED))
-- class: 8
-- expect: same
-- why: CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... USING INDEX keeping DEFERRABLE INITIALLY DEFERRED
BEGIN;
--
-- Create constraint orgs_slug_uniq on model org
--
ALTER TABLE "orgs" ADD CONSTRAINT "orgs_slug_uniq" UNIQUE ("slug") DEFERRABLE INITIALLY DEFERRED;
COMMIT;
