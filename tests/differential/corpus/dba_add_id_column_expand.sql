-- source: DBA
-- class: 2
-- expect: same
-- why: the no-rewrite way to give a PK-less table an id: plain column, a sequence the file creates, SET DEFAULT for new rows
ALTER TABLE page_views ADD COLUMN id bigint;
CREATE SEQUENCE page_views_id_seq OWNED BY page_views.id;
ALTER TABLE page_views ALTER COLUMN id SET DEFAULT nextval('page_views_id_seq');
