-- source: Ecto (create index(:orders, [:status], concurrently: true) with @disable_ddl_transaction)
-- class: 0
-- expect: same
-- why: already CONCURRENTLY: built as written under Ecto's name
CREATE INDEX CONCURRENTLY "orders_status_index" ON "orders" ("status");
