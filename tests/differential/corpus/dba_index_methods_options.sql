-- source: DBA
-- class: 0
-- expect: same
-- why: the CONCURRENTLY builds keep the method, opclass, ordering, NULLS LAST, collation and storage parameters
CREATE INDEX products_name_c_idx ON products (name COLLATE "C" DESC NULLS LAST);
CREATE INDEX orders_created_brin ON orders USING brin (created_at) WITH (pages_per_range = 32);
CREATE INDEX orders_note_hash ON orders USING hash (note);
CREATE INDEX page_views_path_ff ON page_views (path text_pattern_ops) WITH (fillfactor = 70);
