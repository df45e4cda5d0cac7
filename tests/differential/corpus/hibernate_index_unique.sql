-- source: Hibernate (hbm2ddl.auto=update with @Index and @Column(unique = true), logged DDL)
-- class: 0
-- expect: same
-- why: Hibernate's unquoted UK_/idx_ names fold to lower case; the UNIQUE via CONCURRENTLY + USING INDEX, the index CONCURRENTLY
create index idx_users_phone on users (phone);
alter table if exists users add constraint UK_6dotkott2kjsp8vw4d0m25fb7 unique (email);
