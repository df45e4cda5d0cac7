-- source: Hibernate (hbm2ddl.auto=update, logged DDL)
-- class: 7
-- expect: same
-- why: `alter table if exists` changes users and skips app_settings, which does not exist (a notice, not an error)
alter table if exists users add column middle_name varchar(255);
alter table if exists app_settings add column theme varchar(255);
