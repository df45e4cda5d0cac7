-- source: Rails (add_check_constraint validate: false, then validate_check_constraint)
-- class: 0
-- expect: same
-- why: the user's own NOT VALID then VALIDATE, kept as written: the constraint ends validated
ALTER TABLE "orders" ADD CONSTRAINT "total_cents_positive" CHECK (total_cents > 0) NOT VALID;
ALTER TABLE "orders" VALIDATE CONSTRAINT "total_cents_positive";
