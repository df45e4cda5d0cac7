-- source: Ecto (add :manager_id, references(:users))
-- class: 5
-- expect: same
-- why: an inline REFERENCES on a new self-referencing column of the big table: NOT VALID + VALIDATE, and no index Ecto did not create
ALTER TABLE "users" ADD COLUMN "manager_id" bigint CONSTRAINT "users_manager_id_fkey" REFERENCES "users"("id");
