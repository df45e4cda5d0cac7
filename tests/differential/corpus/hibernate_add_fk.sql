-- source: Hibernate (hbm2ddl.auto=update, logged DDL)
-- class: 5,7
-- expect: same
-- why: `alter table if exists` on an existing table does the change; FK to the PK (no column list), no index Hibernate did not ask for
alter table if exists orders add column product_id integer;
alter table if exists orders add constraint FKkp5k52qtiygd8jkag4hayd0qg foreign key (product_id) references products;
