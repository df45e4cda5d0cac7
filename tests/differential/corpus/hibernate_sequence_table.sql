-- source: Hibernate (hbm2ddl.auto=update, logged DDL)
-- class: 2,7
-- expect: same
-- why: a new sequence and table, then `alter table if exists` on the new table and a FK to an existing one (brief lock on orders)
create sequence shipments_seq start with 1 increment by 50;
create table shipments (id bigint not null, carrier varchar(255), order_id bigint, shipped_at timestamp(6) with time zone, primary key (id));
alter table if exists shipments add constraint FK7y8ruqr27i2f4w0x9c5hs2w0s foreign key (order_id) references orders;
