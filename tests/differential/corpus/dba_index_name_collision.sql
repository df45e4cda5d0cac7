-- source: DBA
-- class: 6
-- expect: same
-- why: users_lower_idx exists (on lower(name)), so PostgreSQL picks users_lower_idx1; a correct tool does the same
CREATE INDEX ON users (lower(email));
