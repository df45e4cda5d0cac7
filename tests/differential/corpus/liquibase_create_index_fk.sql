-- source: Liquibase (update-sql, createIndex + addForeignKeyConstraint)
-- class: 5
-- expect: same
-- why: Liquibase's schema-qualified index and FK with ON UPDATE/ON DELETE actions kept; no index besides the one the changelog asks for
CREATE INDEX idx_orders_created ON public.orders(created_at);

ALTER TABLE public.page_views ADD CONSTRAINT fk_page_views_users FOREIGN KEY (user_id) REFERENCES public.users (id) ON UPDATE RESTRICT ON DELETE CASCADE;
