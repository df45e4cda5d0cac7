-- seed.sql: the starting schema and data of the differential test (tests/differential).
--
-- Every corpus file is applied to a fresh copy of this database (CREATE DATABASE ... TEMPLATE),
-- once with psql and once with convoy. The data is deterministic: every value is a function of
-- generate_series (no random(), no now()), so two copies hash the same and a corpus file can
-- rely on exact values (for example: every users.updated_at is set, a third of users.bio is NULL).
--
-- What is here, and which corpus files need it:
--   users (200,000 rows)          the big table; FK to orgs; unique email; a lower(name) index
--   orgs, orders, products        ordinary tables with FKs between them
--   events (range, 5 partitions)  a partitioned table with a PK and a DEFAULT partition
--   measurements (list, 3 parts)  a partitioned table without PK and without DEFAULT partition
--   billing.invoices              a table in another schema, FK to public.users, with an audit
--                                 trigger writing billing.invoice_events on every UPDATE
--   page_views                    a table without a primary key
--   "User", "Post", "PostStatus"  Prisma's quoted mixed-case tables and enum
--   "Auth"."Session"              a table in a quoted mixed-case schema (Prisma multiSchema)
--   bookkeeping tables            alembic_version, schema_migrations + ar_internal_metadata
--                                 (Rails), knex_migrations(+_lock), "SequelizeMeta", migrations
--                                 (TypeORM), flyway_schema_history, databasechangelog(+lock)
--                                 (Liquibase), "__EFMigrationsHistory", billing.schema_migrations
--                                 (golang-migrate)
--   legacy_notes, org_directory   a table to drop or rename, a view
--   org_user_counts               a materialized view (stale: users changed after it was built)
SET client_min_messages = warning;

-- Roles are cluster-wide: created once, only if missing (the runner seeds one cluster once).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'app_readonly') THEN
        CREATE ROLE app_readonly NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'app_rw') THEN
        CREATE ROLE app_rw NOLOGIN;
    END IF;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- plain tables
CREATE TABLE orgs (
    id serial PRIMARY KEY,
    name text NOT NULL,
    slug varchar(64) NOT NULL,
    plan_code text,
    created_at timestamptz NOT NULL DEFAULT '2024-01-01 00:00:00+00'
);
INSERT INTO orgs (name, slug, created_at)
SELECT 'Org ' || i, 'org-' || i, timestamptz '2023-06-01 00:00:00+00' + i * interval '1 hour'
FROM generate_series(1, 500) AS i;

CREATE TABLE users (
    id bigserial PRIMARY KEY,
    org_id integer REFERENCES orgs (id),
    email varchar(255) NOT NULL,
    name varchar(100),                        -- nullable, but set on every row
    status varchar(20) NOT NULL DEFAULT 'active',
    score integer,                            -- NULL on every 7th row
    legacy_flag boolean NOT NULL DEFAULT false,
    bio text,                                 -- NULL on every 3rd row
    phone varchar(32),                        -- set on every 10th row only
    created_at timestamptz NOT NULL,
    updated_at timestamptz,                   -- nullable, but set on every row
    CONSTRAINT users_email_key UNIQUE (email)
);
INSERT INTO users (id, org_id, email, name, status, score, legacy_flag, bio, phone, created_at,
                   updated_at)
SELECT i,
       CASE WHEN i % 5 = 0 THEN NULL ELSE 1 + i % 500 END,
       'user' || i || '@example.com',
       'User ' || i,
       (ARRAY['active', 'active', 'active', 'inactive', 'banned'])[1 + i % 5],
       CASE WHEN i % 7 = 0 THEN NULL ELSE (i * 31) % 1000 END,
       i % 11 = 0,
       CASE WHEN i % 3 = 0 THEN NULL ELSE 'bio of user ' || i END,
       CASE WHEN i % 10 = 0 THEN '+1-555-' || lpad((i % 10000)::text, 4, '0') END,
       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 minute',
       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 minute' + interval '1 day'
FROM generate_series(1, 200000) AS i;
SELECT setval('users_id_seq', 200000);
CREATE INDEX users_status_idx ON users (status);
CREATE INDEX users_lower_idx ON users (lower(name));
CREATE INDEX users_org_id_idx ON users (org_id);

CREATE TABLE products (
    id serial PRIMARY KEY,
    sku varchar(32) NOT NULL,
    name text NOT NULL,
    price numeric(10, 2) NOT NULL,
    active boolean NOT NULL DEFAULT true
);
INSERT INTO products (sku, name, price, active)
SELECT 'SKU-' || lpad(i::text, 5, '0'), 'Product ' || i, (i % 500) + 0.99, i % 13 <> 0
FROM generate_series(1, 2000) AS i;

CREATE TABLE orders (
    id bigserial PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users (id),
    status text NOT NULL DEFAULT 'pending',
    total_cents integer NOT NULL,
    currency char(3),                         -- nullable, but 'USD' on every row
    note text,                                -- set on every 50th row only
    created_at timestamptz NOT NULL,
    CONSTRAINT orders_total_cents_check CHECK (total_cents > 0)
);
INSERT INTO orders (user_id, status, total_cents, currency, note, created_at)
SELECT 1 + (i * 7) % 200000,
       (ARRAY['pending', 'paid', 'shipped', 'cancelled'])[1 + i % 4],
       100 + (i * 37) % 10000,
       'USD',
       CASE WHEN i % 50 = 0 THEN 'gift' END,
       timestamptz '2024-01-01 00:00:00+00' + i * interval '5 minutes'
FROM generate_series(1, 60000) AS i;
CREATE INDEX orders_user_id_idx ON orders (user_id);
-- added NOT VALID by an earlier migration; a corpus file validates it
ALTER TABLE orders ADD CONSTRAINT orders_currency_check CHECK (currency = 'USD') NOT VALID;

-- ---------------------------------------------------------------------------------------------
-- partitioned tables
CREATE TABLE events (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    kind text NOT NULL,
    payload jsonb,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE TABLE events_2024_q1 PARTITION OF events
    FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2024-04-01 00:00:00+00');
CREATE TABLE events_2024_q2 PARTITION OF events
    FOR VALUES FROM ('2024-04-01 00:00:00+00') TO ('2024-07-01 00:00:00+00');
CREATE TABLE events_2024_q3 PARTITION OF events
    FOR VALUES FROM ('2024-07-01 00:00:00+00') TO ('2024-10-01 00:00:00+00');
CREATE TABLE events_2024_q4 PARTITION OF events
    FOR VALUES FROM ('2024-10-01 00:00:00+00') TO ('2025-01-01 00:00:00+00');
CREATE TABLE events_default PARTITION OF events DEFAULT;
INSERT INTO events (id, user_id, kind, payload, created_at)
SELECT i,
       1 + (i * 11) % 200000,
       (ARRAY['click', 'view', 'signup', 'purchase'])[1 + i % 4],
       jsonb_build_object('n', i, 'tag', 't' || (i % 10)),
       timestamptz '2024-01-01 00:00:00+00' + i * interval '6 minutes'
FROM generate_series(1, 80000) AS i;
CREATE INDEX events_kind_created_idx ON events (kind, created_at);
-- A few rows in the DEFAULT partition, far from the ranges the corpus adds (2025).
INSERT INTO events (id, user_id, kind, payload, created_at)
SELECT 80000 + i, 1 + i, 'late', NULL, timestamptz '2026-02-01 00:00:00+00' + i * interval '1 hour'
FROM generate_series(1, 100) AS i;

CREATE TABLE measurements (
    region text NOT NULL,
    sensor_id integer NOT NULL,
    reading double precision NOT NULL,
    taken_at timestamptz NOT NULL
) PARTITION BY LIST (region);
CREATE TABLE measurements_eu PARTITION OF measurements FOR VALUES IN ('eu');
CREATE TABLE measurements_us PARTITION OF measurements FOR VALUES IN ('us');
CREATE TABLE measurements_apac PARTITION OF measurements FOR VALUES IN ('apac');
INSERT INTO measurements (region, sensor_id, reading, taken_at)
SELECT (ARRAY['eu', 'us', 'apac'])[1 + i % 3], i % 97, (i % 1000) / 8.0,
       timestamptz '2024-03-01 00:00:00+00' + i * interval '30 seconds'
FROM generate_series(1, 6000) AS i;

-- ---------------------------------------------------------------------------------------------
-- another schema
CREATE SCHEMA billing;
CREATE TABLE billing.invoices (
    id bigserial PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES public.users (id),
    amount_cents integer NOT NULL,
    status text NOT NULL DEFAULT 'open',
    issued_at timestamptz NOT NULL
);
INSERT INTO billing.invoices (user_id, amount_cents, status, issued_at)
SELECT 1 + (i * 3) % 200000, 500 + (i * 53) % 20000,
       (ARRAY['open', 'paid', 'void'])[1 + i % 3],
       timestamptz '2024-02-01 00:00:00+00' + i * interval '10 minutes'
FROM generate_series(1, 30000) AS i;
-- an audit trigger: every UPDATE of an invoice writes one row (a tool that updates a row twice
-- shows here)
CREATE TABLE billing.invoice_events (
    invoice_id bigint NOT NULL,
    old_status text NOT NULL,
    new_status text NOT NULL,
    old_amount integer NOT NULL,
    new_amount integer NOT NULL
);
CREATE FUNCTION billing.invoice_audit() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO billing.invoice_events
    VALUES (OLD.id, OLD.status, NEW.status, OLD.amount_cents, NEW.amount_cents);
    RETURN NEW;
END;
$$;
CREATE TRIGGER invoices_audit AFTER UPDATE ON billing.invoices
    FOR EACH ROW EXECUTE FUNCTION billing.invoice_audit();
-- golang-migrate's bookkeeping table, in the schema its service owns
CREATE TABLE billing.schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL);
INSERT INTO billing.schema_migrations VALUES (20240301120000, false);

-- ---------------------------------------------------------------------------------------------
-- a table without a primary key
CREATE TABLE page_views (
    user_id bigint,                           -- NULL on every 10th row
    path text NOT NULL,
    referrer text,                            -- NULL on every 3rd row
    user_agent text,                          -- nullable, but set on every row
    viewed_at timestamptz NOT NULL
);
INSERT INTO page_views (user_id, path, referrer, user_agent, viewed_at)
SELECT CASE WHEN i % 10 = 0 THEN NULL ELSE 1 + (i * 13) % 200000 END,
       '/p/' || (i % 300),
       CASE WHEN i % 3 = 0 THEN NULL ELSE 'https://ref' || (i % 17) || '.example/' END,
       'ua-' || (i % 5),
       timestamptz '2024-01-01 00:00:00+00' + i * interval '45 seconds'
FROM generate_series(1, 50000) AS i;
CREATE INDEX page_views_path_idx ON page_views (path);

-- ---------------------------------------------------------------------------------------------
-- Prisma's quoted, mixed-case tables (as `prisma migrate` creates them)
CREATE TYPE "PostStatus" AS ENUM ('DRAFT', 'PUBLISHED');

CREATE TABLE "User" (
    "id" SERIAL NOT NULL,
    "email" TEXT NOT NULL,
    "name" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "Post" (
    "id" SERIAL NOT NULL,
    "title" TEXT NOT NULL,
    "slug" TEXT NOT NULL,
    "content" TEXT,
    "published" BOOLEAN NOT NULL DEFAULT false,
    "status" "PostStatus" NOT NULL DEFAULT 'DRAFT',
    "authorId" INTEGER NOT NULL,

    CONSTRAINT "Post_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "Post_slug_key" ON "Post"("slug");

ALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

INSERT INTO "User" ("email", "name", "createdAt", "updatedAt")
SELECT 'person' || i || '@example.org', 'Person ' || i,
       timestamp '2024-01-01 00:00:00' + i * interval '1 hour',
       timestamp '2024-01-01 00:00:00' + i * interval '1 hour' + interval '5 minutes'
FROM generate_series(1, 5000) AS i;
INSERT INTO "Post" ("title", "slug", "content", "published", "status", "authorId")
SELECT 'Post ' || i, 'post-' || i,
       CASE WHEN i % 4 = 0 THEN NULL ELSE 'content of post ' || i END,
       i % 2 = 0,
       CASE WHEN i % 2 = 0 THEN 'PUBLISHED'::"PostStatus" ELSE 'DRAFT'::"PostStatus" END,
       1 + i % 5000
FROM generate_series(1, 20000) AS i;

-- Prisma with multiSchema: a quoted mixed-case schema
CREATE SCHEMA "Auth";
CREATE TABLE "Auth"."Session" (
    "id" TEXT NOT NULL,
    "userId" INTEGER NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Session_pkey" PRIMARY KEY ("id")
);
ALTER TABLE "Auth"."Session" ADD CONSTRAINT "Session_userId_fkey" FOREIGN KEY ("userId") REFERENCES "public"."User"("id") ON DELETE CASCADE ON UPDATE CASCADE;
INSERT INTO "Auth"."Session" ("id", "userId", "expiresAt")
SELECT 'sess_' || md5(i::text), 1 + (i * 7) % 5000, timestamp '2024-06-01 00:00:00' + i * interval '1 minute'
FROM generate_series(1, 3000) AS i;

-- ---------------------------------------------------------------------------------------------
-- migration tools' bookkeeping tables, in the shapes the tools create them
CREATE TABLE alembic_version (
    version_num VARCHAR(32) NOT NULL,
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
INSERT INTO alembic_version (version_num) VALUES ('ae1027a6acf');

CREATE TABLE schema_migrations (version character varying NOT NULL PRIMARY KEY);
INSERT INTO schema_migrations (version) VALUES ('20240101000000'), ('20240301000000');
CREATE TABLE ar_internal_metadata (
    key character varying NOT NULL PRIMARY KEY,
    value character varying,
    created_at timestamp(6) without time zone NOT NULL,
    updated_at timestamp(6) without time zone NOT NULL
);
INSERT INTO ar_internal_metadata VALUES
    ('environment', 'production', '2024-01-01 00:00:00', '2024-01-01 00:00:00');

CREATE TABLE knex_migrations (
    id serial PRIMARY KEY,
    name varchar(255),
    batch integer,
    migration_time timestamptz
);
INSERT INTO knex_migrations (name, batch, migration_time) VALUES
    ('20240101000000_init.js', 1, '2024-01-01 00:00:00+00'),
    ('20240301000000_add_orders.js', 2, '2024-03-01 00:00:00+00');
CREATE TABLE knex_migrations_lock (index serial PRIMARY KEY, is_locked integer);
INSERT INTO knex_migrations_lock (is_locked) VALUES (0);

CREATE TABLE "SequelizeMeta" ("name" VARCHAR(255) NOT NULL UNIQUE, PRIMARY KEY ("name"));
INSERT INTO "SequelizeMeta" ("name") VALUES ('20240101000000-create-users.js');

CREATE TABLE migrations (
    id SERIAL NOT NULL,
    "timestamp" bigint NOT NULL,
    name character varying NOT NULL,
    CONSTRAINT "PK_8c82d7f526340ab734260ea46be" PRIMARY KEY (id)
);
INSERT INTO migrations ("timestamp", name) VALUES (1704067200000, 'Init1704067200000');

CREATE TABLE flyway_schema_history (
    installed_rank integer NOT NULL,
    version character varying(50),
    description character varying(200) NOT NULL,
    type character varying(20) NOT NULL,
    script character varying(1000) NOT NULL,
    checksum integer,
    installed_by character varying(100) NOT NULL,
    installed_on timestamp without time zone DEFAULT now() NOT NULL,
    execution_time integer NOT NULL,
    success boolean NOT NULL,
    CONSTRAINT flyway_schema_history_pk PRIMARY KEY (installed_rank)
);
CREATE INDEX flyway_schema_history_s_idx ON flyway_schema_history (success);
INSERT INTO flyway_schema_history VALUES
    (1, '1', 'init', 'SQL', 'V1__init.sql', 1234567, 'app', '2024-01-01 00:00:00', 42, true);

CREATE TABLE databasechangeloglock (
    id integer NOT NULL,
    locked boolean NOT NULL,
    lockgranted timestamp without time zone,
    lockedby character varying(255),
    CONSTRAINT databasechangeloglock_pkey PRIMARY KEY (id)
);
INSERT INTO databasechangeloglock VALUES (1, false, NULL, NULL);
CREATE TABLE databasechangelog (
    id character varying(255) NOT NULL,
    author character varying(255) NOT NULL,
    filename character varying(255) NOT NULL,
    dateexecuted timestamp without time zone NOT NULL,
    orderexecuted integer NOT NULL,
    exectype character varying(10) NOT NULL,
    md5sum character varying(35),
    description character varying(255),
    comments character varying(255),
    tag character varying(255),
    liquibase character varying(20),
    contexts character varying(255),
    labels character varying(255),
    deployment_id character varying(10)
);
INSERT INTO databasechangelog VALUES
    ('0', 'alice', 'db/changelog.xml', '2024-01-01 00:00:00', 1, 'EXECUTED',
     '9:1f1ea7b3a4c1c0a1b2c3d4e5f6a7b8c9', 'createTable tableName=users', '', NULL, '4.27.0',
     NULL, NULL, '4100000000');

CREATE TABLE "__EFMigrationsHistory" (
    "MigrationId" character varying(150) NOT NULL,
    "ProductVersion" character varying(32) NOT NULL,
    CONSTRAINT "PK___EFMigrationsHistory" PRIMARY KEY ("MigrationId")
);
INSERT INTO "__EFMigrationsHistory" VALUES ('20240101000000_Init', '8.0.4');

-- ---------------------------------------------------------------------------------------------
-- objects to drop, rename or grant on
CREATE TABLE legacy_notes (id serial PRIMARY KEY, body text NOT NULL);
INSERT INTO legacy_notes (body) SELECT 'note ' || i FROM generate_series(1, 100) AS i;

CREATE VIEW org_directory AS SELECT id, name FROM orgs;

-- a materialized view with the unique index REFRESH ... CONCURRENTLY needs
CREATE MATERIALIZED VIEW org_user_counts AS
    SELECT org_id, count(*) AS n_users FROM users GROUP BY org_id;
CREATE UNIQUE INDEX org_user_counts_org_id_idx ON org_user_counts (org_id);
-- data the next refresh will pick up
UPDATE users SET org_id = 1 WHERE id BETWEEN 1 AND 50;

GRANT SELECT ON ALL TABLES IN SCHEMA public TO app_readonly;
GRANT SELECT, INSERT, UPDATE, DELETE ON legacy_notes TO app_rw;

-- Statistics as a production database has them (convoy reads reltuples for its estimates).
VACUUM ANALYZE;
