-- source: DBA
-- class: 8
-- expect: same
-- why: varchar(20) -> varchar(40) USING status::varchar(40) does not rewrite (PostgreSQL simplifies the cast); ask the server, don't refuse
ALTER TABLE users ALTER COLUMN status TYPE varchar(40) USING status::varchar(40);
