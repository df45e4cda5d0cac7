-- source: Rails (db/structure.sql preamble, as pasted into a migration)
-- class: 10
-- expect: same
-- output: lock_timeout
-- why: lock_timeout = 0 means "wait forever": convoy keeps its own bound and says so
SET statement_timeout = 0;
SET lock_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
ALTER TABLE ONLY public.orders ADD COLUMN refunded_at timestamp(6) without time zone;
