-- source: DBA
-- class: 6
-- expect: same
-- why: unnamed UNIQUE and CHECKs get PostgreSQL's names: orgs_slug_key, orgs_name_check, and orders_total_cents_check1 (the name is taken)
ALTER TABLE orgs ADD UNIQUE (slug);
ALTER TABLE orgs ADD CHECK (length(name) > 0);
ALTER TABLE orders ADD CHECK (total_cents >= 0);
