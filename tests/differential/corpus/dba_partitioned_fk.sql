-- source: DBA
-- class: 4
-- expect: same
-- why: a FK from a partitioned table cannot be NOT VALID: add it NOT VALID + VALIDATE per partition, then on the parent (it adopts them), with psql's names
ALTER TABLE events ADD CONSTRAINT events_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id);
