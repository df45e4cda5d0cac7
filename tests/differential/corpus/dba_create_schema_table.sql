-- source: DBA
-- class: 0
-- expect: same
-- why: a new schema, table and index: nothing existing is locked, passed through
CREATE SCHEMA reporting;
CREATE TABLE reporting.daily_revenue (day date PRIMARY KEY, revenue_cents bigint NOT NULL);
CREATE INDEX ON reporting.daily_revenue (revenue_cents);
