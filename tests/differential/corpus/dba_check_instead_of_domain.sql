-- source: DBA
-- class: 0
-- expect: same
-- why: the safe form of a constrained-domain column: base type, CHECK NOT VALID, VALIDATE (no rewrite, no long lock)
ALTER TABLE orgs ADD COLUMN contact_email text;
ALTER TABLE orgs ADD CONSTRAINT orgs_contact_email_check CHECK (contact_email ~ '@') NOT VALID;
ALTER TABLE orgs VALIDATE CONSTRAINT orgs_contact_email_check;
