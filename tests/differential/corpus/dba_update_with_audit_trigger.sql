-- source: DBA
-- class: 3
-- expect: same
-- why: a whole-table UPDATE of invoices, which have an audit trigger: batched, every row updated exactly once, so exactly 30,000 audit rows as under psql
UPDATE billing.invoices SET amount_cents = amount_cents + 1;
