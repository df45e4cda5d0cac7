-- source: DBA
-- class: 2
-- expect: same
-- why: an IMMUTABLE function created earlier in the file as a DEFAULT: a fast default (metadata only) once the probe sees the function
CREATE FUNCTION public.default_plan_code() RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT 'free'::text $$;

ALTER TABLE orgs ALTER COLUMN plan_code SET DEFAULT public.default_plan_code();
ALTER TABLE products ADD COLUMN plan_code text NOT NULL DEFAULT public.default_plan_code();
