-- source: DBA
-- class: 0
-- expect: same
-- why: VALIDATE of a constraint an earlier migration added NOT VALID: one SHARE UPDATE EXCLUSIVE step
ALTER TABLE orders VALIDATE CONSTRAINT orders_currency_check;
