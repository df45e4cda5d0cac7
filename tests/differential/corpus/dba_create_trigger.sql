-- source: DBA
-- class: 8
-- expect: same
-- why: CREATE TRIGGER takes SHARE ROW EXCLUSIVE briefly and rewrites nothing: run it under lock_timeout after its function
CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
