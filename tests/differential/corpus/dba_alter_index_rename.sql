-- source: DBA
-- class: 8
-- expect: same
-- why: renaming an index breaks no query; a brief lock under lock_timeout, no advice about adding columns
ALTER INDEX users_status_idx RENAME TO index_users_on_status;
