-- source: DBA
-- class: 0
-- expect: same
-- why: a multi-column CHECK ... NO INHERIT ends exactly as psql's: NO INHERIT kept, validated
ALTER TABLE orders ADD CONSTRAINT orders_note_len CHECK (note IS NULL OR length(note) <= total_cents) NO INHERIT;
