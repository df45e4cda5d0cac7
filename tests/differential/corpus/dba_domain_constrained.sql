-- source: DBA
-- class: 2
-- expect: refused domain; instead: dba_check_instead_of_domain.sql
-- why: a column of a constrained domain rewrites the table under psql; the domain is new in this file, so only a probe that sees it can tell
CREATE DOMAIN email_address AS text CHECK (VALUE ~ '@');
ALTER TABLE orgs ADD COLUMN contact_email email_address;
