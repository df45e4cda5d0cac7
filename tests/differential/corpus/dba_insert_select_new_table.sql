-- source: DBA
-- class: 0
-- expect: same
-- why: a new table filled from the big table by INSERT ... SELECT: it only reads users (ACCESS SHARE); passed through
CREATE TABLE user_emails_archive (user_id bigint PRIMARY KEY, email varchar(255) NOT NULL);
INSERT INTO user_emails_archive (user_id, email) SELECT id, email FROM users WHERE status = 'banned';
