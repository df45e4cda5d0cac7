-- source: DBA
-- class: 6
-- expect: same
-- why: inline constraints on new columns get PostgreSQL's names: orders_priority_check, orders_coupon_code_key, orders_ref_org_fkey
ALTER TABLE orders ADD COLUMN priority integer NOT NULL DEFAULT 0 CHECK (priority >= 0);
ALTER TABLE orders ADD COLUMN coupon_code text UNIQUE;
ALTER TABLE orders ADD COLUMN ref_org integer REFERENCES orgs ON DELETE CASCADE;
