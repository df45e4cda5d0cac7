-- source: Liquibase (update-sql, addNotNullConstraint with defaultNullValue)
-- class: 3
-- expect: same
-- why: Liquibase fills the NULLs first (58,800 of 60k rows: a batched backfill with its WHERE), then SET NOT NULL through the check dance

-- Changeset db/changelog.xml::5::alice
UPDATE public.orders SET note = 'none' WHERE note IS NULL;

ALTER TABLE public.orders ALTER COLUMN  note SET NOT NULL;
