--liquibase formatted sql
-- source: Liquibase (formatted SQL changelog)
-- class: 0
-- expect: same
-- why: Liquibase's changeset comments are comments; the column is metadata only, the runInTransaction:false index is already CONCURRENTLY

--changeset alice:3
ALTER TABLE public.products ADD COLUMN discontinued_at TIMESTAMP WITHOUT TIME ZONE;
--rollback ALTER TABLE public.products DROP COLUMN discontinued_at;

--changeset alice:4 runInTransaction:false
CREATE INDEX CONCURRENTLY idx_products_discontinued ON public.products (discontinued_at);
