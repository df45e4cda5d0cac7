-- source: DBA (an idempotent seed row in a DO block)
-- class: 2,3
-- expect: same
-- why: the DO block inserts with orgs_id_seq; replaying it for the probes must not consume a sequence value (the real row must get id 501)
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM orgs WHERE slug = 'default') THEN
        INSERT INTO orgs (name, slug) VALUES ('Default org', 'default');
    END IF;
END
$$;
ALTER TABLE orgs ADD COLUMN is_default boolean NOT NULL DEFAULT false;
UPDATE orgs SET is_default = true WHERE slug = 'default';
