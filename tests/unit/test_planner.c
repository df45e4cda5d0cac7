/* test_planner.c: table-driven tests of the migration parser and every planner rule. */
#include "convoy/facts.h"
#include "convoy/migration.h"
#include "convoy/plan.h"
#include "convoy/util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

/* ------------------------------------------------------------ expectations */

/* Tri-state flag expectation; the zero value leaves the flag unchecked. */
enum { ANY = 0, NO, YES };

/* Expected lock mode, offset by one so that 0 means "unchecked". */
#define LK(mode) ((int)(mode) + 1)
#define AE       LK(LOCK_ACCESS_EXCLUSIVE)
#define SRE      LK(LOCK_SHARE_ROW_EXCLUSIVE)
#define SUE      LK(LOCK_SHARE_UPDATE_EXCLUSIVE)
#define RE       LK(LOCK_ROW_EXCLUSIVE)
#define RS       LK(LOCK_ROW_SHARE)
#define AS       LK(LOCK_ACCESS_SHARE)

#define MAX_EXP_STEPS 10

typedef struct {
    step_kind_t kind;
    const char *sql;        /* substring of the step's SQL; NULL: unchecked */
    const char *not_sql[2]; /* substrings that must not occur in it */
    const char *table;      /* table of the first lock, as SQL; NULL: unchecked */
    int lock;               /* LK(mode) of the first lock, or 0 */
    const char *table2;     /* table of the second lock (the referenced one) */
    int lock2;              /* LK(mode) of the second lock, or 0 */
    int rewrites, scans, transactional;
} exp_step_t;

/* Step shapes, one per kind of step the planner emits. */
#define DDL(s, tbl)                                                                                \
    {                                                                                              \
        .kind = STEP_DDL, .sql = (s), .table = (tbl), .lock = AE, .rewrites = NO, .scans = NO,     \
        .transactional = YES                                                                       \
    }
#define VALIDATE(s, tbl)                                                                           \
    {                                                                                              \
        .kind = STEP_VALIDATE, .sql = (s), .table = (tbl), .lock = SUE, .rewrites = NO,            \
        .scans = YES, .transactional = YES                                                         \
    }
#define BACKFILL(s, tbl)                                                                           \
    {                                                                                              \
        .kind = STEP_BACKFILL, .sql = (s), .table = (tbl), .lock = RE, .rewrites = NO,             \
        .scans = YES, .transactional = YES                                                         \
    }
#define INDEX(s, tbl)                                                                              \
    {                                                                                              \
        .kind = STEP_INDEX, .sql = (s), .not_sql = {"IF NOT EXISTS"}, .table = (tbl), .lock = SUE, \
        .rewrites = NO, .scans = YES, .transactional = NO                                          \
    }
#define FK_DDL(s, tbl, ref)                                                                        \
    {                                                                                              \
        .kind = STEP_DDL, .sql = (s), .table = (tbl), .lock = SRE, .table2 = (ref), .lock2 = SRE,  \
        .rewrites = NO, .scans = NO, .transactional = YES                                          \
    }
#define ORPHAN(s, tbl, ref)                                                                        \
    {                                                                                              \
        .kind = STEP_ORPHAN_CHECK, .sql = (s), .table = (tbl), .lock = AS, .table2 = (ref),        \
        .lock2 = AS, .rewrites = NO, .scans = YES, .transactional = YES                            \
    }
#define FK_VALIDATE(s, tbl, ref)                                                                   \
    {                                                                                              \
        .kind = STEP_VALIDATE, .sql = (s), .table = (tbl), .lock = SUE, .table2 = (ref),           \
        .lock2 = RS, .rewrites = NO, .scans = YES, .transactional = YES                            \
    }
#define TRIGGER(s, tbl)                                                                            \
    {                                                                                              \
        .kind = STEP_DDL, .sql = (s), .table = (tbl), .lock = SRE, .rewrites = NO, .scans = NO,    \
        .transactional = YES                                                                       \
    }
#define PASS(s)                                                                                    \
    {                                                                                              \
        .kind = STEP_PASSTHROUGH, .sql = (s), .rewrites = NO, .transactional = YES                 \
    }
/* ADD COLUMN without DEFAULT or NOT NULL (the first step of the expand path). */
#define ADD_NULLABLE(s, tbl)                                                                       \
    {                                                                                              \
        .kind = STEP_DDL, .sql = (s), .not_sql = {"DEFAULT", "NOT NULL"}, .table = (tbl),          \
        .lock = AE, .rewrites = NO, .scans = NO, .transactional = YES                              \
    }
/* CHECK (col IS NOT NULL) NOT VALID -> VALIDATE -> SET NOT NULL -> DROP CONSTRAINT. */
#define NOT_NULL_DANCE(tbl, chk, col)                                                              \
    DDL("ADD CONSTRAINT " chk " CHECK (" col " IS NOT NULL) NOT VALID", tbl),                      \
        VALIDATE("VALIDATE CONSTRAINT " chk, tbl), DDL("ALTER COLUMN " col " SET NOT NULL", tbl),  \
        DDL("DROP CONSTRAINT " chk, tbl)

/* -------------------------------------------------------------- live facts */

/* A table as the catalog describes it. */
typedef struct {
    const char *schema_given; /* as the migration wrote it; NULL: unqualified */
    const char *name;         /* as written and as resolved (schema resolves to public) */
    bool missing;             /* the catalog has no such table */
    int64_t rows;             /* has_rows when > 0 */
    const char *cols[8];      /* "name type", with a trailing '!' for NOT NULL */
    const char *pk[3];
    const char *indexes[4]; /* "name:col1,col2" */
} tbl_spec_t;

typedef struct {
    size_t action;
    bool fast, immutable, domain;
    const char *error;
} dflt_spec_t;

typedef struct {
    size_t action;
    bool rewrites;
    const char *error;
} type_spec_t;

typedef struct {
    int server_version; /* 0: 150004 */
    tbl_spec_t tables[4];
    dflt_spec_t defaults[3];
    size_t n_defaults;
    type_spec_t types[2];
    size_t n_types;
} live_spec_t;

#define USERS_COLS                                                                                 \
    {                                                                                              \
        "id bigint!", "email text!", "created_at timestamp with time zone!", "age integer",        \
            "name text", "nickname character varying(50)"                                          \
    }
#define USERS                                                                                      \
    {                                                                                              \
        .name = "users", .rows = 1000000, .cols = USERS_COLS, .pk = {"id"}, .indexes = {           \
            "users_pkey:id",                                                                       \
            "users_email_key:email"                                                                \
        }                                                                                          \
    }
#define EMPTY_USERS                                                                                \
    {                                                                                              \
        .name = "users", .rows = 0, .cols = USERS_COLS, .pk = {"id"}, .indexes = {                 \
            "users_pkey:id"                                                                        \
        }                                                                                          \
    }
#define ORDERS(...)                                                                                \
    {                                                                                              \
        .name = "orders", .rows = 5000000,                                                         \
        .cols = {"id bigint!", "user_id bigint", "total numeric", "created_at timestamptz!"},      \
        .pk = {"id"}, .indexes = {                                                                 \
            "orders_pkey:id",                                                                      \
            __VA_ARGS__                                                                            \
        }                                                                                          \
    }

static const live_spec_t live_users = {.tables = {USERS}};
static const live_spec_t live_empty_users = {.tables = {EMPTY_USERS}};
static const live_spec_t live_orders_no_index = {.tables = {USERS, ORDERS(NULL)}};

/* ------------------------------------------------------------------- cases */

typedef struct {
    const char *name;
    const char *sql;         /* a whole migration file */
    const live_spec_t *live; /* NULL: planned offline */
    size_t n_steps;
    exp_step_t steps[MAX_EXP_STEPS];
    size_t n_refusals, n_errors, n_warnings;
    const char *note;        /* substring of some refusal, error or warning message */
    const char *fix;         /* substring of some note's fix */
    const char *quoted[2];   /* every occurrence in the generated SQL lies inside "..." */
    int64_t lock_timeout_ms; /* 0: unchecked */
} plan_case_t;

static const char seed_sql[] =
    "ALTER TABLE users\nADD COLUMN last_login TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL;";

static const plan_case_t plan_cases[] = {
    /* ---- ADD COLUMN with a non-volatile default: one metadata-only step */
    {
        .name = "seed statement offline: metadata-only, warns about the stable default",
        .sql = seed_sql,
        .n_steps = 1,
        .steps = {DDL("ALTER TABLE users ADD COLUMN last_login timestamp with time zone DEFAULT "
                      "now() NOT NULL",
                      "users")},
        .n_warnings = 1,
        .note = "evaluated once",
        .fix = "-- convoy:backfill last_login = ",
    },
    {
        .name = "seed statement live: probe says fast and stable",
        .sql = seed_sql,
        .live = &(const live_spec_t){.tables = {USERS},
                                     .defaults = {{0, .fast = true, .immutable = false}},
                                     .n_defaults = 1},
        .n_steps = 1,
        .steps = {DDL("ALTER TABLE public.users ADD COLUMN last_login timestamp with time zone "
                      "DEFAULT now() NOT NULL",
                      "public.users")},
        .n_warnings = 1,
        .note = "every existing row gets the migration's value",
        .fix = "convoy:backfill last_login",
    },
    {
        .name = "live immutable constant default: no stable warning",
        .sql = "ALTER TABLE users ADD COLUMN plan text NOT NULL DEFAULT 'free';",
        .live = &(const live_spec_t){.tables = {USERS},
                                     .defaults = {{0, .fast = true, .immutable = true}},
                                     .n_defaults = 1},
        .n_steps = 1,
        .steps = {DDL("ADD COLUMN plan text DEFAULT 'free' NOT NULL", "public.users")},
    },
    {
        .name = "nullable column without default",
        .sql = "ALTER TABLE users ADD COLUMN bio text;",
        .n_steps = 1,
        .steps = {ADD_NULLABLE("ALTER TABLE users ADD COLUMN bio text", "users")},
    },
    {
        .name = "constant default",
        .sql = "ALTER TABLE users ADD COLUMN plan text DEFAULT 'free';",
        .n_steps = 1,
        .steps = {DDL("ALTER TABLE users ADD COLUMN plan text DEFAULT 'free'", "users")},
    },
    {
        .name = "NOT NULL with constant default: one step",
        .sql = "ALTER TABLE users ADD COLUMN score integer NOT NULL DEFAULT 0;",
        .n_steps = 1,
        .steps = {DDL("ADD COLUMN score int DEFAULT 0 NOT NULL", "users")},
    },
    {
        .name = "server older than 11 (probe: no fast default): constant default is backfilled",
        .sql = "ALTER TABLE users ADD COLUMN plan text DEFAULT 'free';",
        .live = &(const live_spec_t){.server_version = 100023,
                                     .tables = {USERS},
                                     .defaults = {{0, .fast = false, .immutable = true}},
                                     .n_defaults = 1},
        .n_steps = 3,
        .steps = {ADD_NULLABLE("ALTER TABLE public.users ADD COLUMN plan text", "public.users"),
                  DDL("ALTER COLUMN plan SET DEFAULT 'free'", "public.users"),
                  BACKFILL("SET plan = 'free'", "public.users")},
        .n_warnings = 1,
    },

    /* ---- volatile defaults: the expand path */
    {
        .name = "volatile gen_random_uuid() NOT NULL offline: full expand sequence",
        .sql = "ALTER TABLE users ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid();",
        .n_steps = 7,
        .steps = {ADD_NULLABLE("ALTER TABLE users ADD COLUMN token uuid", "users"),
                  DDL("ALTER TABLE users ALTER COLUMN token SET DEFAULT gen_random_uuid()",
                      "users"),
                  BACKFILL("UPDATE users SET token = gen_random_uuid() WHERE (id) > ($1)", "users"),
                  NOT_NULL_DANCE("users", "convoy_users_token_not_null", "token")},
        .n_warnings = 1,
        .note = "is volatile",
    },
    {
        .name = "volatile clock_timestamp() NOT NULL live (probe: not fast)",
        .sql = "ALTER TABLE users ADD COLUMN seen_at timestamptz NOT NULL DEFAULT "
               "clock_timestamp();",
        .live = &(const live_spec_t){.tables = {USERS},
                                     .defaults = {{0, .fast = false}},
                                     .n_defaults = 1},
        .n_steps = 7,
        .steps = {ADD_NULLABLE("ALTER TABLE public.users ADD COLUMN seen_at timestamptz",
                               "public.users"),
                  DDL("SET DEFAULT clock_timestamp()", "public.users"),
                  BACKFILL("UPDATE public.users SET seen_at = clock_timestamp() WHERE (id) > ($1)",
                           "public.users"),
                  NOT_NULL_DANCE("public.users", "convoy_users_seen_at_not_null", "seen_at")},
        .n_warnings = 1,
        .note = "is volatile",
    },
    {
        .name = "volatile default without NOT NULL: no check steps",
        .sql = "ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();",
        .n_steps = 3,
        .steps = {ADD_NULLABLE("ADD COLUMN token uuid", "users"),
                  DDL("SET DEFAULT gen_random_uuid()", "users"),
                  BACKFILL("SET token = gen_random_uuid()", "users")},
        .n_warnings = 1,
        .note = "is volatile",
    },
    {
        .name = "live probe overrules the name list: unknown function found volatile",
        .sql = "ALTER TABLE users ADD COLUMN code text DEFAULT make_code();",
        .live = &(const live_spec_t){.tables = {USERS},
                                     .defaults = {{0, .fast = false}},
                                     .n_defaults = 1},
        .n_steps = 3,
        .steps = {ADD_NULLABLE("ADD COLUMN code text", "public.users"),
                  DDL("SET DEFAULT make_code()", "public.users"),
                  BACKFILL("SET code = make_code()", "public.users")},
        .n_warnings = 1,
    },
    {
        .name = "offline unknown function default: assumed stable, one step and a warning",
        .sql = "ALTER TABLE users ADD COLUMN code text DEFAULT make_code();",
        .n_steps = 1,
        .steps = {DDL("ADD COLUMN code text DEFAULT make_code()", "users")},
        .n_warnings = 1,
        .note = "evaluated once",
    },
    {
        .name = "live empty table with volatile default: no backfill, check dance kept",
        .sql = "ALTER TABLE users ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid();",
        .live = &(const live_spec_t){.tables = {EMPTY_USERS},
                                     .defaults = {{0, .fast = false}},
                                     .n_defaults = 1},
        .n_steps = 6,
        .steps = {ADD_NULLABLE("ADD COLUMN token uuid", "public.users"),
                  DDL("SET DEFAULT gen_random_uuid()", "public.users"),
                  NOT_NULL_DANCE("public.users", "convoy_users_token_not_null", "token")},
        .n_warnings = 1,
    },

    /* ---- backfill directive */
    {
        .name = "backfill directive not reading columns, with a DEFAULT: no trigger",
        .sql = "-- convoy:backfill last_login = '2020-01-01'::timestamptz\n"
               "ALTER TABLE users ADD COLUMN last_login timestamptz DEFAULT now();\n",
        .n_steps = 3,
        .steps = {ADD_NULLABLE("ALTER TABLE users ADD COLUMN last_login timestamptz", "users"),
                  DDL("ALTER TABLE users ALTER COLUMN last_login SET DEFAULT now()", "users"),
                  BACKFILL("UPDATE users SET last_login = '2020-01-01'::timestamptz WHERE (id) > "
                           "($1) AND (id) <= ($2) AND last_login IS NULL",
                           "users")},
    },
    {
        .name = "backfill directive not reading columns, no DEFAULT: trigger fills old writers",
        .sql = "-- convoy:backfill plan = 'free'\n"
               "ALTER TABLE users ADD COLUMN plan text NOT NULL;\n",
        .n_steps = 8,
        .steps = {ADD_NULLABLE("ALTER TABLE users ADD COLUMN plan text", "users"),
                  TRIGGER("CREATE TRIGGER convoy_users_plan_sync", "users"),
                  BACKFILL("UPDATE users SET plan = 'free'", "users"),
                  NOT_NULL_DANCE("users", "convoy_users_plan_not_null", "plan"),
                  DDL("DROP TRIGGER IF EXISTS convoy_users_plan_sync ON users", "users")},
    },
    {
        .name = "backfill directive reading columns: sync trigger, and its cleanup last",
        .sql = "-- convoy:backfill last_login = created_at\n"
               "ALTER TABLE users ADD COLUMN last_login timestamptz NOT NULL;\n",
        .n_steps = 8,
        .steps = {ADD_NULLABLE("ADD COLUMN last_login timestamptz", "users"),
                  TRIGGER("CREATE TRIGGER convoy_users_last_login_sync BEFORE INSERT OR UPDATE ON "
                          "users",
                          "users"),
                  BACKFILL("UPDATE users SET last_login = created_at", "users"),
                  NOT_NULL_DANCE("users", "convoy_users_last_login_not_null", "last_login"),
                  DDL("DROP TRIGGER IF EXISTS convoy_users_last_login_sync ON users", "users")},
    },
    {
        .name = "seed statement with a backfill directive (live): expand path, no warning",
        .sql = "-- convoy:backfill last_login = created_at\n"
               "ALTER TABLE users\n"
               "ADD COLUMN last_login TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL;\n",
        .live = &(
            const live_spec_t){.tables = {USERS}, .defaults = {{0, .fast = true}}, .n_defaults = 1},
        .n_steps = 9,
        .steps = {ADD_NULLABLE("ADD COLUMN last_login timestamp with time zone", "public.users"),
                  TRIGGER("CREATE TRIGGER convoy_users_last_login_sync", "public.users"),
                  DDL("ALTER COLUMN last_login SET DEFAULT now()", "public.users"),
                  BACKFILL("UPDATE public.users SET last_login = created_at", "public.users"),
                  NOT_NULL_DANCE("public.users", "convoy_users_last_login_not_null", "last_login"),
                  DDL("DROP TRIGGER IF EXISTS convoy_users_last_login_sync", "public.users")},
    },
    {
        .name = "backfill directive with a quoted mixed-case column",
        .sql = "-- convoy:backfill \"lastLogin\" = \"createdAt\"\n"
               "ALTER TABLE \"Users\" ADD COLUMN \"lastLogin\" timestamptz;\n",
        .n_steps = 4,
        .steps = {ADD_NULLABLE("ALTER TABLE \"Users\" ADD COLUMN \"lastLogin\" timestamptz",
                               "\"Users\""),
                  TRIGGER("CREATE TRIGGER", "\"Users\""),
                  BACKFILL("UPDATE \"Users\" SET \"lastLogin\" = \"createdAt\"", "\"Users\""),
                  DDL("DROP TRIGGER IF EXISTS", "\"Users\"")},
    },

    /* ---- NOT NULL without a default */
    {
        .name = "NOT NULL without default or backfill offline: refused",
        .sql = "ALTER TABLE users ADD COLUMN tier text NOT NULL;",
        .n_refusals = 1,
        .note = "NOT NULL without a DEFAULT",
        .fix = "-- convoy:backfill tier = ",
    },
    {
        .name = "NOT NULL without default on a non-empty live table: refused",
        .sql = "ALTER TABLE users ADD COLUMN tier text NOT NULL;",
        .live = &live_users,
        .n_refusals = 1,
        .note = "fails on a non-empty table",
    },
    {
        .name = "NOT NULL without default on an empty live table: one step",
        .sql = "ALTER TABLE users ADD COLUMN tier text NOT NULL;",
        .live = &live_empty_users,
        .n_steps = 1,
        .steps = {DDL("ALTER TABLE public.users ADD COLUMN tier text NOT NULL", "public.users")},
    },

    /* ---- foreign keys */
    {
        .name = "inline REFERENCES: NOT VALID, orphan check, validate, index",
        .sql = "ALTER TABLE orders ADD COLUMN buyer_id bigint REFERENCES users (id);",
        .n_steps = 5,
        .steps = {ADD_NULLABLE("ALTER TABLE orders ADD COLUMN buyer_id bigint", "orders"),
                  FK_DDL("ALTER TABLE orders ADD CONSTRAINT orders_buyer_id_fkey FOREIGN KEY "
                         "(buyer_id) REFERENCES users (id) NOT VALID",
                         "orders",
                         "users"),
                  ORPHAN("FROM orders c WHERE true AND c.buyer_id IS NOT NULL AND NOT EXISTS "
                         "(SELECT 1 FROM users p WHERE p.id = c.buyer_id)",
                         "orders",
                         "users"),
                  FK_VALIDATE("ALTER TABLE orders VALIDATE CONSTRAINT orders_buyer_id_fkey",
                              "orders",
                              "users"),
                  INDEX("CREATE INDEX CONCURRENTLY orders_buyer_id_idx ON orders (buyer_id)",
                        "orders")},
    },
    {
        .name = "ADD CONSTRAINT FOREIGN KEY live without a covering index: index step",
        .sql = "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) "
               "REFERENCES users (id);",
        .live = &live_orders_no_index,
        .n_steps = 4,
        .steps = {FK_DDL("ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users "
                         "(id) NOT VALID",
                         "public.orders",
                         "public.users"),
                  ORPHAN("SELECT count(*) FROM public.orders c", "public.orders", "public.users"),
                  FK_VALIDATE(
                      "VALIDATE CONSTRAINT orders_user_fk", "public.orders", "public.users"),
                  INDEX("ON public.orders (user_id)", "public.orders")},
    },
    {
        .name = "ADD CONSTRAINT FOREIGN KEY live with an index on the column: no index step",
        .sql = "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) "
               "REFERENCES users (id);",
        .live = &(const live_spec_t){.tables = {USERS, ORDERS("orders_user_id_idx:user_id")}},
        .n_steps = 3,
        .steps = {FK_DDL("NOT VALID", "public.orders", "public.users"),
                  ORPHAN(NULL, "public.orders", "public.users"),
                  FK_VALIDATE(
                      "VALIDATE CONSTRAINT orders_user_fk", "public.orders", "public.users")},
    },
    {
        .name = "FK live: a composite index led by the column covers it",
        .sql = "ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES users (id);",
        .live =
            &(const live_spec_t){
                .tables = {USERS, ORDERS("orders_user_created_idx:user_id,created_at")}},
        .n_steps = 3,
        .steps = {FK_DDL("ADD CONSTRAINT orders_user_id_fkey FOREIGN KEY",
                         "public.orders",
                         "public.users"),
                  ORPHAN(NULL, "public.orders", "public.users"),
                  FK_VALIDATE(NULL, "public.orders", "public.users")},
    },
    {
        .name = "FK live: an index with the column second does not cover it",
        .sql = "ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES users (id);",
        .live =
            &(const live_spec_t){
                .tables = {USERS, ORDERS("orders_created_user_idx:created_at,user_id")}},
        .n_steps = 4,
        .steps = {FK_DDL(NULL, "public.orders", "public.users"),
                  ORPHAN(NULL, "public.orders", "public.users"),
                  FK_VALIDATE(NULL, "public.orders", "public.users"),
                  INDEX("CREATE INDEX CONCURRENTLY orders_user_id_idx ON public.orders (user_id)",
                        "public.orders")},
    },
    {
        .name = "FK with CREATE INDEX on the column in the same file: no extra index",
        .sql = "CREATE INDEX orders_user_id_ix ON orders (user_id);\n"
               "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) "
               "REFERENCES users (id);\n",
        .n_steps = 4,
        .steps = {FK_DDL("orders_user_fk", "orders", "users"), ORPHAN(NULL, "orders", "users"),
                  FK_VALIDATE(NULL, "orders", "users"),
                  INDEX("CREATE INDEX CONCURRENTLY orders_user_id_ix ON orders", "orders")},
    },
    {
        .name = "FK given NOT VALID: no orphan check or validation",
        .sql = "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) "
               "REFERENCES users (id) NOT VALID;",
        .n_steps = 2,
        .steps = {FK_DDL(
                      "FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID", "orders", "users"),
                  INDEX("orders_user_id_idx", "orders")},
    },
    {
        .name = "multi-column FK: named after every column, every column checked",
        .sql = "ALTER TABLE line_items ADD FOREIGN KEY (order_id, region) REFERENCES orders (id, "
               "region);",
        .n_steps = 4,
        .steps = {FK_DDL("ADD CONSTRAINT line_items_order_id_region_fkey FOREIGN KEY (order_id, "
                         "region) REFERENCES orders (id, region) NOT VALID",
                         "line_items",
                         "orders"),
                  ORPHAN("c.order_id IS NOT NULL AND c.region IS NOT NULL AND NOT EXISTS (SELECT "
                         "1 FROM orders p WHERE p.id = c.order_id AND p.region = c.region)",
                         "line_items",
                         "orders"),
                  FK_VALIDATE("VALIDATE CONSTRAINT line_items_order_id_region_fkey",
                              "line_items",
                              "orders"),
                  INDEX("ON line_items (order_id, region)", "line_items")},
    },

    /* ---- CHECK */
    {
        .name = "CHECK: NOT VALID then VALIDATE",
        .sql = "ALTER TABLE users ADD CONSTRAINT age_positive CHECK (age > 0);",
        .n_steps = 2,
        .steps = {DDL("ALTER TABLE users ADD CONSTRAINT age_positive CHECK (age > 0) NOT VALID",
                      "users"),
                  VALIDATE("ALTER TABLE users VALIDATE CONSTRAINT age_positive", "users")},
    },
    {
        .name = "CHECK given NOT VALID by the user: one step",
        .sql = "ALTER TABLE users ADD CONSTRAINT age_positive CHECK (age > 0) NOT VALID;",
        .n_steps = 1,
        .steps = {DDL("CHECK (age > 0) NOT VALID", "users")},
    },
    {
        .name = "unnamed CHECK on one column is named table_column_check",
        .sql = "ALTER TABLE users ADD CHECK (age >= 0);",
        .n_steps = 2,
        .steps = {DDL("ADD CONSTRAINT users_age_check CHECK (age >= 0) NOT VALID", "users"),
                  VALIDATE("VALIDATE CONSTRAINT users_age_check", "users")},
    },

    /* ---- UNIQUE and PRIMARY KEY */
    {
        .name = "inline UNIQUE: unique index concurrently, then USING INDEX",
        .sql = "ALTER TABLE users ADD COLUMN handle text UNIQUE;",
        .n_steps = 3,
        .steps = {{.kind = STEP_DDL,
                   .sql = "ALTER TABLE users ADD COLUMN handle text",
                   .not_sql = {"UNIQUE"},
                   .table = "users",
                   .lock = AE},
                  INDEX("CREATE UNIQUE INDEX CONCURRENTLY users_handle_key ON users (handle)",
                        "users"),
                  DDL("ALTER TABLE users ADD CONSTRAINT users_handle_key UNIQUE USING INDEX "
                      "users_handle_key",
                      "users")},
    },
    {
        .name = "UNIQUE table constraint",
        .sql = "ALTER TABLE users ADD CONSTRAINT users_name_email_key UNIQUE (name, email);",
        .n_steps = 2,
        .steps = {INDEX("CREATE UNIQUE INDEX CONCURRENTLY users_name_email_key ON users (name, "
                        "email)",
                        "users"),
                  DDL("ADD CONSTRAINT users_name_email_key UNIQUE USING INDEX users_name_email_key",
                      "users")},
    },
    {
        .name = "UNIQUE with INCLUDE or NULLS NOT DISTINCT: refused, not silently dropped",
        .sql = "ALTER TABLE users ADD CONSTRAINT u UNIQUE NULLS NOT DISTINCT (email) INCLUDE "
               "(name);",
        .n_refusals = 1,
        .note = "NULLS NOT DISTINCT",
        .fix = "USING INDEX",
    },
    {
        .name = "ADD PRIMARY KEY live on a NOT NULL column: named table_pkey",
        .sql = "ALTER TABLE events ADD PRIMARY KEY (id);",
        .live =
            &(const live_spec_t){
                .tables = {{.name = "events", .rows = 10, .cols = {"id bigint!", "kind text"}}}},
        .n_steps = 2,
        .steps = {INDEX("CREATE UNIQUE INDEX CONCURRENTLY events_pkey ON public.events (id)",
                        "public.events"),
                  DDL("ADD CONSTRAINT events_pkey PRIMARY KEY USING INDEX events_pkey",
                      "public.events")},
    },
    {
        .name = "ADD PRIMARY KEY live on a nullable column: refused",
        .sql = "ALTER TABLE events ADD PRIMARY KEY (kind);",
        .live =
            &(const live_spec_t){
                .tables = {{.name = "events", .rows = 10, .cols = {"id bigint!", "kind text"}}}},
        .n_refusals = 1,
        .note = "nullable column kind",
    },
    {
        .name = "ADD PRIMARY KEY USING INDEX: one metadata step",
        .sql = "ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY USING INDEX "
               "events_id_idx;",
        .n_steps = 1,
        .steps = {DDL("ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY USING INDEX "
                      "events_id_idx",
                      "events")},
    },

    /* ---- indexes */
    {
        .name = "CREATE INDEX runs after a backfill written after it",
        .sql = "CREATE INDEX users_last_login_idx ON users (last_login);\n"
               "-- convoy:backfill last_login = now()\n"
               "ALTER TABLE users ADD COLUMN last_login timestamptz;\n",
        .n_steps = 5,
        .steps = {ADD_NULLABLE("ADD COLUMN last_login timestamptz", "users"),
                  TRIGGER("CREATE TRIGGER", "users"), BACKFILL("SET last_login = now()", "users"),
                  INDEX("CREATE INDEX CONCURRENTLY users_last_login_idx ON users USING btree "
                        "(last_login)",
                        "users"),
                  DDL("DROP TRIGGER", "users")},
    },
    {
        .name = "CREATE UNIQUE INDEX on an expression",
        .sql = "CREATE UNIQUE INDEX users_lower_email_key ON users (lower(email));",
        .n_steps = 1,
        .steps = {INDEX("CREATE UNIQUE INDEX CONCURRENTLY users_lower_email_key ON users USING "
                        "btree (lower(email))",
                        "users")},
    },
    {
        .name = "unnamed index gets a generated name",
        .sql = "CREATE INDEX ON users (created_at);",
        .n_steps = 1,
        .steps = {INDEX("CREATE INDEX CONCURRENTLY users_created_at_idx ON users", "users")},
    },
    {
        .name = "CONCURRENTLY IF NOT EXISTS input: IF NOT EXISTS dropped (it skips invalid)",
        .sql = "CREATE INDEX CONCURRENTLY IF NOT EXISTS users_name_idx ON users (name) WHERE "
               "name IS NOT NULL;",
        .n_steps = 1,
        .steps = {INDEX("CREATE INDEX CONCURRENTLY users_name_idx ON users USING btree (name) "
                        "WHERE name IS NOT NULL",
                        "users")},
    },
    {
        .name = "DROP INDEX becomes DROP INDEX CONCURRENTLY",
        .sql = "DROP INDEX users_name_idx;",
        .n_steps = 1,
        .steps = {{.kind = STEP_DROP_INDEX,
                   .sql = "DROP INDEX CONCURRENTLY users_name_idx",
                   .rewrites = NO,
                   .scans = NO,
                   .transactional = NO}},
    },
    {
        .name = "DROP INDEX of two indexes or CASCADE: refused",
        .sql = "DROP INDEX a_idx, b_idx;",
        .n_refusals = 1,
        .note = "one index at a time",
    },

    /* ---- refused column kinds */
    {
        .name = "serial column: refused",
        .sql = "ALTER TABLE users ADD COLUMN seq serial;",
        .n_refusals = 1,
        .note = "serial column",
        .fix = "convoy:backfill seq",
    },
    {
        .name = "bigserial column: refused",
        .sql = "ALTER TABLE users ADD COLUMN seq bigserial;",
        .n_refusals = 1,
        .note = "bigserial column",
    },
    {
        .name = "identity column: refused",
        .sql = "ALTER TABLE users ADD COLUMN num bigint GENERATED ALWAYS AS IDENTITY;",
        .n_refusals = 1,
        .note = "identity column",
    },
    {
        .name = "stored generated column: refused with generated-column advice",
        .sql = "ALTER TABLE orders ADD COLUMN total_cents bigint GENERATED ALWAYS AS (total * "
               "100) STORED;",
        .n_refusals = 1,
        .note = "GENERATED ALWAYS AS",
        .fix = "`-- convoy:backfill total_cents = <the generation expression>`",
    },
    {
        .name = "constrained domain (live probe): refused",
        .sql = "ALTER TABLE users ADD COLUMN contact email_address;",
        .live = &(const live_spec_t){.tables = {USERS},
                                     .defaults = {{0, .fast = true, .domain = true}},
                                     .n_defaults = 1},
        .n_refusals = 1,
        .note = "domain type with constraints",
    },
    {
        .name = "server rejects the column (live probe error): plan error",
        .sql = "ALTER TABLE users ADD COLUMN x no_such_type;",
        .live = &(const live_spec_t){.tables = {USERS},
                                     .defaults = {{0, .error = "type \"no_such_type\" does not "
                                                               "exist"}},
                                     .n_defaults = 1},
        .n_errors = 1,
        .note = "no_such_type",
    },

    /* ---- type changes */
    {
        .name = "ALTER COLUMN TYPE offline: refused (may rewrite)",
        .sql = "ALTER TABLE users ALTER COLUMN age TYPE bigint;",
        .n_refusals = 1,
        .note = "may rewrite the table under ACCESS EXCLUSIVE (no database given",
        .fix = "expand/contract",
    },
    {
        .name = "ALTER COLUMN TYPE live, probe says it rewrites: refused",
        .sql = "ALTER TABLE users ALTER COLUMN age TYPE bigint;",
        .live =
            &(const live_spec_t){.tables = {USERS}, .types = {{0, .rewrites = true}}, .n_types = 1},
        .n_refusals = 1,
        .note = "rewrites the table",
    },
    {
        .name = "ALTER COLUMN TYPE live, binary-coercible: one ddl step",
        .sql = "ALTER TABLE users ALTER COLUMN nickname TYPE varchar(100);",
        .live = &(
            const live_spec_t){.tables = {USERS}, .types = {{0, .rewrites = false}}, .n_types = 1},
        .n_steps = 1,
        .steps = {DDL("ALTER TABLE public.users ALTER COLUMN nickname TYPE varchar(100)",
                      "public.users")},
    },
    {
        .name = "ALTER COLUMN TYPE ... USING: refused",
        .sql = "ALTER TABLE users ALTER COLUMN age TYPE bigint USING age::bigint;",
        .n_refusals = 1,
        .note = "USING rewrites",
    },

    /* ---- refused statements */
    {
        .name = "RENAME COLUMN: refused",
        .sql = "ALTER TABLE users RENAME COLUMN name TO full_name;",
        .n_refusals = 1,
        .note = "RENAME",
    },
    {
        .name = "RENAME TABLE: refused",
        .sql = "ALTER TABLE users RENAME TO people;",
        .n_refusals = 1,
        .note = "RENAME",
    },
    {
        .name = "DROP COLUMN: refused",
        .sql = "ALTER TABLE users DROP COLUMN nickname;",
        .n_refusals = 1,
        .note = "DROP COLUMN",
    },
    {
        .name = "DROP TABLE: refused",
        .sql = "DROP TABLE users;",
        .n_refusals = 1,
        .note = "DROP TABLE",
    },
    {
        .name = "EXCLUDE constraint: refused",
        .sql = "ALTER TABLE bookings ADD CONSTRAINT no_overlap EXCLUDE USING gist (room WITH =, "
               "during WITH &&);",
        .n_refusals = 1,
        .note = "EXCLUDE",
    },
    {
        .name = "whole-table UPDATE: refused, suggests backfill",
        .sql = "UPDATE users SET plan = 'free';",
        .n_refusals = 1,
        .note = "whole-table UPDATE",
        .fix = "convoy:backfill",
    },
    {
        .name = "TRUNCATE: refused",
        .sql = "TRUNCATE users;",
        .n_refusals = 1,
        .note = "TRUNCATE",
    },
    {
        .name = "VACUUM FULL: refused",
        .sql = "VACUUM FULL users;",
        .n_refusals = 1,
        .note = "strong lock",
        .fix = "pg_repack",
    },
    {
        .name = "CLUSTER: refused",
        .sql = "CLUSTER users USING users_pkey;",
        .n_refusals = 1,
        .note = "strong lock",
    },
    {
        .name = "REINDEX: refused",
        .sql = "REINDEX TABLE users;",
        .n_refusals = 1,
        .note = "REINDEX",
        .fix = "CONCURRENTLY",
    },
    {
        .name = "LOCK TABLE: refused",
        .sql = "LOCK TABLE users IN ACCESS EXCLUSIVE MODE;",
        .n_refusals = 1,
        .note = "strong lock",
    },
    {
        .name = "whole-table DELETE: refused",
        .sql = "DELETE FROM users;",
        .n_refusals = 1,
        .note = "whole-table UPDATE or DELETE",
    },
    {
        .name = "DROP CONSTRAINT: refused",
        .sql = "ALTER TABLE orders DROP CONSTRAINT orders_user_fk;",
        .n_refusals = 1,
        .note = "DROP CONSTRAINT",
    },
    {
        .name = "REFRESH MATERIALIZED VIEW: refused",
        .sql = "REFRESH MATERIALIZED VIEW user_stats;",
        .n_refusals = 1,
        .note = "strong lock",
    },
    {
        .name = "an ALTER TABLE form convoy does not know: refused",
        .sql = "ALTER TABLE users ALTER COLUMN name SET STATISTICS 500;",
        .n_refusals = 1,
        .note = "does not yet know",
    },
    {
        .name = "any other statement: refused, convoy does not guess",
        .sql = "CREATE TRIGGER t BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION f();",
        .n_refusals = 1,
        .note = "does not know how to make this kind of statement safe",
    },
    {
        .name = "refusal among safe statements: the safe steps are still planned",
        .sql = "ALTER TABLE users ADD COLUMN bio text;\nALTER TABLE users DROP COLUMN name;\n",
        .n_steps = 1,
        .steps = {ADD_NULLABLE("ADD COLUMN bio text", "users")},
        .n_refusals = 1,
    },

    /* ---- passthrough and ignored statements */
    {
        .name = "CREATE TABLE, and ALTER/CREATE INDEX on it, pass through as written",
        .sql = "CREATE TABLE audit_events (id bigint PRIMARY KEY, payload jsonb);\n"
               "ALTER TABLE audit_events ADD COLUMN created_at timestamptz NOT NULL;\n"
               "CREATE INDEX audit_events_created_at_idx ON audit_events (created_at);\n",
        .n_steps = 3,
        .steps = {PASS("CREATE TABLE audit_events"),
                  {.kind = STEP_PASSTHROUGH,
                   .sql = "ALTER TABLE audit_events ADD COLUMN created_at timestamptz NOT NULL",
                   .table = "audit_events"},
                  {.kind = STEP_PASSTHROUGH,
                   .sql = "CREATE INDEX audit_events_created_at_idx ON audit_events (created_at)",
                   .not_sql = {"CONCURRENTLY"},
                   .table = "audit_events"}},
    },
    {
        .name = "live: a table created in the file is not an unknown table",
        .sql = "CREATE TABLE audit_events (id bigint PRIMARY KEY);\n"
               "ALTER TABLE audit_events ADD COLUMN note text NOT NULL;\n",
        .live = &live_users,
        .n_steps = 2,
        .steps = {PASS("CREATE TABLE audit_events"), PASS("ADD COLUMN note text NOT NULL")},
    },
    {
        .name = "CREATE EXTENSION, TYPE, SEQUENCE and FUNCTION pass through",
        .sql = "CREATE EXTENSION IF NOT EXISTS pgcrypto;\n"
               "CREATE TYPE mood AS ENUM ('happy', 'sad');\n"
               "CREATE SEQUENCE invoice_numbers;\n"
               "CREATE FUNCTION one() RETURNS int LANGUAGE sql AS 'SELECT 1';\n",
        .n_steps = 4,
        .steps = {PASS("CREATE EXTENSION IF NOT EXISTS pgcrypto"),
                  PASS("CREATE TYPE mood AS ENUM ('happy', 'sad')"),
                  PASS("CREATE SEQUENCE invoice_numbers"), PASS("CREATE FUNCTION one()")},
    },
    {
        .name = "COMMENT ON passes through",
        .sql = "COMMENT ON COLUMN users.email IS 'primary contact';",
        .n_steps = 1,
        .steps = {PASS("COMMENT ON COLUMN users.email IS 'primary contact'")},
    },
    {
        .name = "BEGIN/COMMIT ignored with warnings",
        .sql = "BEGIN;\nALTER TABLE users ADD COLUMN bio text;\nCOMMIT;\n",
        .n_steps = 1,
        .steps = {ADD_NULLABLE("ADD COLUMN bio text", "users")},
        .n_warnings = 2,
        .note = "transaction control is ignored",
    },
    {
        .name = "SET statement_timeout ignored with a warning",
        .sql = "SET statement_timeout = '5s';\nALTER TABLE users ADD COLUMN bio text;\n",
        .n_steps = 1,
        .steps = {ADD_NULLABLE("ADD COLUMN bio text", "users")},
        .n_warnings = 1,
        .note = "SET is ignored",
    },
    {
        .name = "only transaction control: nothing to do",
        .sql = "BEGIN;\nCOMMIT;\n",
        .n_warnings = 3,
        .note = "nothing to do",
    },

    /* ---- ORM-style SQL */
    {
        .name = "quoted schema-qualified identifiers keep their quoting",
        .sql = "ALTER TABLE \"public\".\"Users\" ADD COLUMN \"lastLogin\" timestamp(6) DEFAULT "
               "CURRENT_TIMESTAMP;",
        .n_steps = 1,
        .steps = {DDL("ALTER TABLE public.\"Users\" ADD COLUMN \"lastLogin\" timestamp(6) DEFAULT "
                      "current_timestamp",
                      "public.\"Users\"")},
        .n_warnings = 1,
        .note = "evaluated once",
        .fix = "-- convoy:backfill \"lastLogin\" = ",
    },
    {
        .name = "ADD without COLUMN",
        .sql = "ALTER TABLE users ADD age_years int;",
        .n_steps = 1,
        .steps = {ADD_NULLABLE("ALTER TABLE users ADD COLUMN age_years int", "users")},
    },
    {
        .name = "several statements and subcommands, in file order",
        .sql = "ALTER TABLE users ADD COLUMN a int, ADD COLUMN b text DEFAULT 'x';\n"
               "ALTER TABLE orders ADD COLUMN note text;\n",
        .n_steps = 3,
        .steps = {ADD_NULLABLE("ALTER TABLE users ADD COLUMN a int", "users"),
                  DDL("ALTER TABLE users ADD COLUMN b text DEFAULT 'x'", "users"),
                  ADD_NULLABLE("ALTER TABLE orders ADD COLUMN note text", "orders")},
    },
    {
        .name = "Rails-style generated SQL",
        .sql = "-- add_column :users, :last_seen_at, :datetime, null: false, default: -> { "
               "'CURRENT_TIMESTAMP' }\n"
               "ALTER TABLE \"users\" ADD \"last_seen_at\" timestamp(6) DEFAULT CURRENT_TIMESTAMP "
               "NOT NULL;\n"
               "CREATE INDEX \"index_users_on_last_seen_at\" ON \"users\" (\"last_seen_at\");\n"
               "ALTER TABLE \"orders\" ADD CONSTRAINT \"fk_rails_f868b47f6a\"\n"
               "FOREIGN KEY (\"user_id\")\n  REFERENCES \"users\" (\"id\")\n;\n",
        .n_steps = 6,
        .steps = {DDL("ALTER TABLE users ADD COLUMN last_seen_at timestamp(6) DEFAULT "
                      "current_timestamp NOT NULL",
                      "users"),
                  FK_DDL("ADD CONSTRAINT fk_rails_f868b47f6a FOREIGN KEY (user_id) REFERENCES "
                         "users (id) NOT VALID",
                         "orders",
                         "users"),
                  ORPHAN(NULL, "orders", "users"),
                  FK_VALIDATE("VALIDATE CONSTRAINT fk_rails_f868b47f6a", "orders", "users"),
                  INDEX("CREATE INDEX CONCURRENTLY index_users_on_last_seen_at ON users", "users"),
                  INDEX("CREATE INDEX CONCURRENTLY orders_user_id_idx ON orders (user_id)",
                        "orders")},
        .n_warnings = 1,
    },
    {
        .name = "Django-style generated SQL (deferrable FK, SET CONSTRAINTS, DROP DEFAULT)",
        .sql = "BEGIN;\n"
               "--\n-- Add field author to book\n--\n"
               "ALTER TABLE \"library_book\" ADD COLUMN \"author_id\" bigint NULL CONSTRAINT "
               "\"library_book_author_id_8a3f2c1e_fk_library_author_id\" REFERENCES "
               "\"library_author\"(\"id\") DEFERRABLE INITIALLY DEFERRED; SET CONSTRAINTS "
               "\"library_book_author_id_8a3f2c1e_fk_library_author_id\" IMMEDIATE;\n"
               "CREATE INDEX \"library_book_author_id_8a3f2c1e\" ON \"library_book\" "
               "(\"author_id\");\n"
               "--\n-- Add field published to book\n--\n"
               "ALTER TABLE \"library_book\" ADD COLUMN \"published\" boolean DEFAULT false NOT "
               "NULL;\n"
               "ALTER TABLE \"library_book\" ALTER COLUMN \"published\" DROP DEFAULT;\n"
               "COMMIT;\n",
        .n_steps = 7,
        .steps = {ADD_NULLABLE("ALTER TABLE library_book ADD COLUMN author_id bigint",
                               "library_book"),
                  DDL("ALTER TABLE library_book ADD COLUMN published boolean DEFAULT false NOT "
                      "NULL",
                      "library_book"),
                  DDL("ALTER TABLE library_book ALTER COLUMN published DROP DEFAULT",
                      "library_book"),
                  FK_DDL("FOREIGN KEY (author_id) REFERENCES library_author (id) DEFERRABLE "
                         "INITIALLY DEFERRED NOT VALID",
                         "library_book",
                         "library_author"),
                  ORPHAN(NULL, "library_book", "library_author"),
                  FK_VALIDATE(NULL, "library_book", "library_author"),
                  INDEX("CREATE INDEX CONCURRENTLY library_book_author_id_8a3f2c1e ON "
                        "library_book",
                        "library_book")},
        .n_warnings = 3,
        .note = "SET CONSTRAINTS is ignored",
    },

    /* ---- live errors */
    {
        .name = "live: unknown table (catalog says it does not exist)",
        .sql = "ALTER TABLE customers ADD COLUMN note text;",
        .live = &(const live_spec_t){.tables = {USERS, {.name = "customers", .missing = true}}},
        .n_errors = 1,
        .note = "unknown table customers",
    },
    {
        .name = "live: unknown table (no catalog entry at all)",
        .sql = "CREATE INDEX ON customers (note);",
        .live = &live_users,
        .n_errors = 1,
        .note = "unknown table customers",
    },
    {
        .name = "live: unknown column in CREATE INDEX",
        .sql = "CREATE INDEX users_nick_idx ON users (nick);",
        .live = &live_users,
        .n_errors = 1,
        .note = "unknown column \"nick\"",
    },
    {
        .name = "live: index name already taken",
        .sql = "CREATE INDEX users_email_key ON users (email);",
        .live = &live_users,
        .n_errors = 1,
        .note = "already exists",
    },
    {
        .name = "backfill directive naming a column the file does not add",
        .sql = "-- convoy:backfill nick = name\nALTER TABLE users ADD COLUMN handle text;\n",
        .n_steps = 1,
        .steps = {ADD_NULLABLE("ADD COLUMN handle text", "users")},
        .n_errors = 1,
        .note = "no ADD COLUMN in this file adds it",
    },
    {
        .name = "live: column already exists",
        .sql = "ALTER TABLE users ADD COLUMN email text;",
        .live = &live_users,
        .n_errors = 1,
        .note = "column email already exists",
    },
    {
        .name = "the same column added twice in one file: error",
        .sql = "ALTER TABLE users ADD COLUMN bio text;\nALTER TABLE users ADD COLUMN bio text;\n",
        .n_steps = 1,
        .steps = {ADD_NULLABLE("ADD COLUMN bio text", "users")},
        .n_errors = 1,
        .note = "column bio is added twice in users (first on line 1)",
    },
    {
        .name = "the same column in two tables is not a duplicate",
        .sql =
            "ALTER TABLE users ADD COLUMN note text;\nALTER TABLE orders ADD COLUMN note text;\n",
        .n_steps = 2,
        .steps = {ADD_NULLABLE("ALTER TABLE users ADD COLUMN note text", "users"),
                  ADD_NULLABLE("ALTER TABLE orders ADD COLUMN note text", "orders")},
    },
    {
        .name = "reserved-word table and column names are quoted everywhere",
        .sql = "ALTER TABLE \"user\" ADD COLUMN \"group\" uuid NOT NULL DEFAULT "
               "gen_random_uuid();",
        .n_steps = 7,
        .steps = {ADD_NULLABLE("ALTER TABLE \"user\" ADD COLUMN \"group\" uuid", "\"user\""),
                  DDL("ALTER TABLE \"user\" ALTER COLUMN \"group\" SET DEFAULT", "\"user\""),
                  BACKFILL("UPDATE \"user\" SET \"group\" = gen_random_uuid() WHERE (id) > ($1) "
                           "AND (id) <= ($2) AND \"group\" IS NULL",
                           "\"user\""),
                  NOT_NULL_DANCE("\"user\"", "convoy_user_group_not_null", "\"group\"")},
        .n_warnings = 1,
    },
    {
        .name = "live: ADD COLUMN IF NOT EXISTS on an existing column is skipped",
        .sql = "ALTER TABLE users ADD COLUMN IF NOT EXISTS email text;",
        .live = &live_users,
        .n_warnings = 2,
        .note = "skipped (IF NOT EXISTS)",
    },
    {
        .name = "live: unknown column in SET NOT NULL",
        .sql = "ALTER TABLE users ALTER COLUMN nick SET NOT NULL;",
        .live = &live_users,
        .n_errors = 1,
        .note = "unknown column \"nick\"",
    },

    /* ---- ALTER COLUMN forms and VALIDATE */
    {
        .name = "SET NOT NULL on an existing column: the four-step check dance",
        .sql = "ALTER TABLE users ALTER COLUMN age SET NOT NULL;",
        .n_steps = 4,
        .steps = {NOT_NULL_DANCE("users", "convoy_users_age_not_null", "age")},
    },
    {
        .name = "live: SET NOT NULL on a column that already is: nothing to do",
        .sql = "ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
        .live = &live_users,
        .n_warnings = 2,
        .note = "already NOT NULL",
    },
    {
        .name = "ALTER COLUMN SET DEFAULT: one ddl",
        .sql = "ALTER TABLE users ALTER COLUMN age SET DEFAULT 18;",
        .n_steps = 1,
        .steps = {DDL("ALTER TABLE users ALTER COLUMN age SET DEFAULT 18", "users")},
    },
    {
        .name = "ALTER COLUMN DROP DEFAULT: one ddl",
        .sql = "ALTER TABLE users ALTER COLUMN age DROP DEFAULT;",
        .n_steps = 1,
        .steps = {DDL("ALTER TABLE users ALTER COLUMN age DROP DEFAULT", "users")},
    },
    {
        .name = "ALTER COLUMN DROP NOT NULL: one ddl",
        .sql = "ALTER TABLE users ALTER COLUMN name DROP NOT NULL;",
        .n_steps = 1,
        .steps = {DDL("ALTER TABLE users ALTER COLUMN name DROP NOT NULL", "users")},
    },
    {
        .name = "VALIDATE CONSTRAINT: validate step",
        .sql = "ALTER TABLE users VALIDATE CONSTRAINT age_positive;",
        .n_steps = 1,
        .steps = {VALIDATE("ALTER TABLE users VALIDATE CONSTRAINT age_positive", "users")},
    },

    /* ---- identifiers never escape their quotes */
    {
        .name = "hostile identifiers stay quoted in every generated statement",
        .sql = "ALTER TABLE \"users; DROP TABLE x\" ADD COLUMN \"v; DROP TABLE y\" uuid NOT NULL "
               "DEFAULT gen_random_uuid();",
        .n_steps = 7,
        .steps = {ADD_NULLABLE("ALTER TABLE \"users; DROP TABLE x\" ADD COLUMN \"v; DROP TABLE "
                               "y\" uuid",
                               "\"users; DROP TABLE x\""),
                  DDL(NULL, NULL), BACKFILL(NULL, NULL), DDL(NULL, NULL), VALIDATE(NULL, NULL),
                  DDL(NULL, NULL), DDL(NULL, NULL)},
        .n_warnings = 1,
        .quoted = {"users; DROP TABLE x", "v; DROP TABLE y"},
    },
    {
        .name = "hostile identifiers in a backfill trigger stay quoted",
        .sql = "-- convoy:backfill \"v; DROP TABLE y\" = \"w'; DROP TABLE z\"\n"
               "ALTER TABLE users ADD COLUMN \"v; DROP TABLE y\" text;\n",
        .n_steps = 4,
        .steps = {ADD_NULLABLE(NULL, "users"), TRIGGER(NULL, "users"), BACKFILL(NULL, "users"),
                  DDL("DROP TRIGGER", "users")},
        .quoted = {"v; DROP TABLE y", "w'; DROP TABLE z"},
    },

    /* ---- directives reach the plan */
    {
        .name = "lock-timeout directive sets the plan's lock timeout",
        .sql = "-- convoy:lock-timeout 200ms\nALTER TABLE users ADD COLUMN bio text;\n",
        .n_steps = 1,
        .steps = {ADD_NULLABLE("ADD COLUMN bio text", "users")},
        .lock_timeout_ms = 200,
    },
    {
        .name = "no lock-timeout directive: the default",
        .sql = "ALTER TABLE users ADD COLUMN bio text;",
        .n_steps = 1,
        .steps = {ADD_NULLABLE("ADD COLUMN bio text", "users")},
        .lock_timeout_ms = PLAN_DEFAULT_LOCK_TIMEOUT_MS,
    },
};

/* -------------------------------------------------------- facts builder */

static void
build_table(const tbl_spec_t *ts, table_fact_t *t)
{
    size_t n_cols = 0, n_pk = 0, n_ix = 0;

    memset(t, 0, sizeof(*t));
    t->schema_given = ts->schema_given ? xstrdup(ts->schema_given) : NULL;
    t->name_given = xstrdup(ts->name);
    t->exists = !ts->missing;
    if (ts->missing) {
        t->rows = -1;
        t->bytes = -1;
        return;
    }
    t->schema = xstrdup(ts->schema_given ? ts->schema_given : "public");
    t->name = xstrdup(ts->name);
    t->rows = ts->rows;
    t->bytes = ts->rows * 100;
    t->has_rows = ts->rows > 0;

    while (n_cols < 8 && ts->cols[n_cols])
        n_cols++;
    t->cols = xcalloc(n_cols, sizeof(column_fact_t));
    for (size_t i = 0; i < n_cols; i++) {
        const char *spec = ts->cols[i];
        const char *sp = strchr(spec, ' ');
        size_t len = strlen(spec);
        bool not_null = len > 0 && spec[len - 1] == '!';

        assert_non_null(sp);
        t->cols[i].name = xstrndup(spec, (size_t)(sp - spec));
        t->cols[i].type = xstrndup(sp + 1, len - (size_t)(sp - spec) - 1 - (not_null ? 1 : 0));
        t->cols[i].not_null = not_null;
    }
    t->n_cols = n_cols;

    while (n_pk < 3 && ts->pk[n_pk])
        n_pk++;
    t->pk_cols = xcalloc(n_pk, sizeof(char *));
    t->pk_types = xcalloc(n_pk, sizeof(char *));
    for (size_t i = 0; i < n_pk; i++) {
        const column_fact_t *cf = facts_column(t, ts->pk[i]);
        assert_non_null(cf);
        t->pk_cols[i] = xstrdup(ts->pk[i]);
        t->pk_types[i] = xstrdup(cf->type);
    }
    t->n_pk = n_pk;

    while (n_ix < 4 && ts->indexes[n_ix])
        n_ix++;
    t->indexes = xcalloc(n_ix, sizeof(index_fact_t));
    for (size_t i = 0; i < n_ix; i++) {
        const char *spec = ts->indexes[i];
        const char *colon = strchr(spec, ':');
        index_fact_t *ix = &t->indexes[i];
        const char *s;

        assert_non_null(colon);
        ix->name = xstrndup(spec, (size_t)(colon - spec));
        ix->valid = true;
        ix->unique = strstr(ix->name, "_key") != NULL || strstr(ix->name, "_pkey") != NULL;
        s = colon + 1;
        while (*s) {
            const char *comma = strchr(s, ',');
            size_t len = comma ? (size_t)(comma - s) : strlen(s);
            ix->cols = xrealloc(ix->cols, (ix->n_cols + 1) * sizeof(char *));
            ix->cols[ix->n_cols++] = xstrndup(s, len);
            s += len;
            if (*s == ',')
                s++;
        }
    }
    t->n_indexes = n_ix;
}

/* Offline facts for NULL, else the live scenario. The caller frees with facts_free. */
static void
build_facts(const live_spec_t *ls, facts_t *f)
{
    size_t n = 0;

    memset(f, 0, sizeof(*f));
    if (ls == NULL) {
        f->server_version = 150000;
        return;
    }
    f->live = true;
    f->server_version = ls->server_version ? ls->server_version : 150004;
    f->server_desc = xstrdup("PostgreSQL (unit test facts)");
    while (n < 4 && ls->tables[n].name)
        n++;
    f->tables = xcalloc(n, sizeof(table_fact_t));
    for (size_t i = 0; i < n; i++)
        build_table(&ls->tables[i], &f->tables[i]);
    f->n_tables = n;

    f->defaults = xcalloc(ls->n_defaults, sizeof(default_fact_t));
    for (size_t i = 0; i < ls->n_defaults; i++) {
        const dflt_spec_t *d = &ls->defaults[i];
        f->defaults[i].action = d->action;
        f->defaults[i].probed = true;
        f->defaults[i].fast = d->fast;
        f->defaults[i].immutable = d->immutable;
        f->defaults[i].domain_constrained = d->domain;
        f->defaults[i].error = d->error ? xstrdup(d->error) : NULL;
    }
    f->n_defaults = ls->n_defaults;

    f->types = xcalloc(ls->n_types, sizeof(type_fact_t));
    for (size_t i = 0; i < ls->n_types; i++) {
        f->types[i].action = ls->types[i].action;
        f->types[i].probed = true;
        f->types[i].rewrites = ls->types[i].rewrites;
        f->types[i].error = ls->types[i].error ? xstrdup(ls->types[i].error) : NULL;
    }
    f->n_types = ls->n_types;
}

/* ------------------------------------------------------------- checking */

static const char *
flag_name(int expect)
{
    return expect == YES ? "yes" : "no";
}

static void
check_flag(sb_t *prob, size_t i, const char *what, int expect, bool actual)
{
    if (expect != ANY && (expect == YES) != actual)
        sb_printf(prob, "  step %zu: %s expected %s, got %s\n", i + 1, what, flag_name(expect),
                  actual ? "yes" : "no");
}

static void
check_lock(sb_t *prob, size_t i, const step_t *s, int k, const char *table, int lock)
{
    if (table == NULL && lock == 0)
        return;
    if (s->n_locks <= k) {
        sb_printf(prob, "  step %zu: expected lock #%d, the step has %d\n", i + 1, k + 1,
                  s->n_locks);
        return;
    }
    if (table && strcmp(s->locks[k].table, table) != 0)
        sb_printf(prob, "  step %zu: lock #%d on %s, expected %s\n", i + 1, k + 1,
                  s->locks[k].table, table);
    if (lock && (int)s->locks[k].mode + 1 != lock)
        sb_printf(prob, "  step %zu: lock #%d is %s, expected %s\n", i + 1, k + 1,
                  lock_mode_name(s->locks[k].mode), lock_mode_name((lock_mode_t)(lock - 1)));
}

static void
check_step(sb_t *prob, size_t i, const step_t *s, const exp_step_t *e)
{
    if (s->kind != e->kind)
        sb_printf(prob, "  step %zu: kind %s, expected %s\n", i + 1, step_kind_name(s->kind),
                  step_kind_name(e->kind));
    if (e->sql && (s->sql == NULL || strstr(s->sql, e->sql) == NULL))
        sb_printf(prob, "  step %zu: SQL lacks \"%s\"\n", i + 1, e->sql);
    for (size_t k = 0; k < 2; k++)
        if (e->not_sql[k] && s->sql && strstr(s->sql, e->not_sql[k]) != NULL)
            sb_printf(prob, "  step %zu: SQL must not contain \"%s\"\n", i + 1, e->not_sql[k]);
    check_lock(prob, i, s, 0, e->table, e->lock);
    check_lock(prob, i, s, 1, e->table2, e->lock2);
    check_flag(prob, i, "rewrites", e->rewrites, s->rewrites);
    check_flag(prob, i, "scans", e->scans, s->scans);
    check_flag(prob, i, "transactional", e->transactional, s->transactional);
}

static bool
notes_have(const plan_note_t *v, size_t n, const char *sub, bool in_fix)
{
    for (size_t i = 0; i < n; i++) {
        const char *text = in_fix ? v[i].fix : v[i].message;
        if (text && strstr(text, sub))
            return true;
    }
    return false;
}

/* True when every occurrence of `ident` in `sql` starts inside a double-quoted identifier. */
static bool
only_quoted(const char *sql, const char *ident)
{
    bool in_dq = false, in_sq = false;
    size_t n = strlen(ident);

    for (const char *p = sql; *p; p++) {
        if (strncmp(p, ident, n) == 0 && !in_dq)
            return false;
        if (*p == '"' && !in_sq)
            in_dq = !in_dq;
        else if (*p == '\'' && !in_dq)
            in_sq = !in_sq;
    }
    return true;
}

static void
check_quoted(sb_t *prob, const plan_t *p, const char *ident)
{
    bool seen = false;

    for (size_t i = 0; i < p->n_steps; i++) {
        const char *texts[3] = {p->steps[i].sql, p->steps[i].count_sql, p->steps[i].sample_sql};
        for (size_t k = 0; k < 3; k++) {
            if (texts[k] == NULL)
                continue;
            seen = seen || strstr(texts[k], ident) != NULL;
            if (!only_quoted(texts[k], ident))
                sb_printf(prob, "  step %zu: %s appears unquoted in: %s\n", i + 1, ident, texts[k]);
        }
    }
    if (!seen)
        sb_printf(prob, "  identifier %s does not appear in any step\n", ident);
}

static void
check_plan(const plan_case_t *tc, const plan_t *p, sb_t *prob)
{
    if (p->n_steps != tc->n_steps)
        sb_printf(prob, "  %zu steps, expected %zu\n", p->n_steps, tc->n_steps);
    for (size_t i = 0; i < p->n_steps && i < tc->n_steps && i < MAX_EXP_STEPS; i++)
        check_step(prob, i, &p->steps[i], &tc->steps[i]);
    if (p->n_refusals != tc->n_refusals)
        sb_printf(prob, "  %zu refusals, expected %zu\n", p->n_refusals, tc->n_refusals);
    if (p->n_errors != tc->n_errors)
        sb_printf(prob, "  %zu errors, expected %zu\n", p->n_errors, tc->n_errors);
    if (p->n_warnings != tc->n_warnings)
        sb_printf(prob, "  %zu warnings, expected %zu\n", p->n_warnings, tc->n_warnings);
    if (tc->note && !notes_have(p->refusals, p->n_refusals, tc->note, false) &&
        !notes_have(p->errors, p->n_errors, tc->note, false) &&
        !notes_have(p->warnings, p->n_warnings, tc->note, false))
        sb_printf(prob, "  no refusal, error or warning mentions \"%s\"\n", tc->note);
    if (tc->fix && !notes_have(p->refusals, p->n_refusals, tc->fix, true) &&
        !notes_have(p->errors, p->n_errors, tc->fix, true) &&
        !notes_have(p->warnings, p->n_warnings, tc->fix, true))
        sb_printf(prob, "  no fix mentions \"%s\"\n", tc->fix);
    for (size_t k = 0; k < 2; k++)
        if (tc->quoted[k])
            check_quoted(prob, p, tc->quoted[k]);
    if (tc->lock_timeout_ms && p->lock_timeout_ms != tc->lock_timeout_ms)
        sb_printf(prob, "  lock_timeout %lld ms, expected %lld ms\n", (long long)p->lock_timeout_ms,
                  (long long)tc->lock_timeout_ms);
    if (p->live != (tc->live != NULL))
        sb_printf(prob, "  plan.live is %d\n", p->live);
}

static void
run_plan_case(void **state)
{
    const plan_case_t *tc = *state;
    migration_t m;
    parse_error_t err;
    facts_t facts;
    plan_t plan;
    sb_t prob;

    if (!migration_parse("migrations/0042_case.sql", tc->sql, &m, &err))
        fail_msg("%s: parse failed at %d:%d: %s", tc->name, err.line, err.column, err.message);
    build_facts(tc->live, &facts);
    plan_build(&m, &facts, &plan);
    sb_init(&prob);
    check_plan(tc, &plan, &prob);
    if (prob.len > 0) {
        print_error("case \"%s\":\n%s--- plan:\n", tc->name, prob.data);
        plan_print(&plan, stderr);
    }
    plan_free(&plan);
    facts_free(&facts);
    migration_free(&m);
    if (prob.len > 0) {
        sb_free(&prob);
        fail();
    }
    sb_free(&prob);
}

/* ----------------------------------------------------- migration_parse */

typedef struct {
    const char *name;
    const char *path;
    const char *text;
    bool ok;
    int line;        /* expected error line (when !ok); 0: unchecked */
    int column;      /* expected error column; 0: only checked to be > 0 */
    const char *msg; /* substring of the error message */
    const char *mig_name;
} parse_case_t;

static const parse_case_t parse_cases[] = {
    {"malformed SQL on line 3", "m.sql",
     "-- convoy:lock-timeout 100ms\n\nALTER TABLE users ADD COLUMN;\n", false, 3, 29,
     "syntax error", NULL},
    {"malformed SQL after multi-byte comments: line and column in characters", "m.sql",
     "-- d\xc3\xa9j\xc3\xa0 vu \xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\n"
     "-- \xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\n"
     "ALTER TABLE users ADD COLUMN;\n",
     false, 3, 29, "syntax error", NULL},
    {"empty file", "m.sql", "", false, 1, 0, "no SQL statements", NULL},
    {"only whitespace and semicolons", "m.sql", "\n  ;\n\t;\n", false, 1, 0, "no SQL statements",
     NULL},
    {"only comments", "m.sql", "-- a comment\n/* a block\n comment */\n-- another\n", false, 1, 0,
     "no SQL statements", NULL},
    {"not SQL at all", "m.sql", "hello world", false, 1, 1, "syntax error", NULL},
    {"unknown directive names its line", "m.sql",
     "ALTER TABLE users ADD COLUMN bio text;\n-- convoy:frobnicate 1\n", false, 2, 0,
     "unknown directive 'convoy:frobnicate'", NULL},
    {"directive without its colon", "m.sql", "-- convoy lock-timeout 1s\nSELECT 1;\n", false, 1, 0,
     "lacks the colon", NULL},
    {"lock-timeout not a duration", "m.sql",
     "-- convoy:lock-timeout soon\nALTER TABLE users ADD COLUMN bio text;\n", false, 1, 0,
     "invalid duration 'soon'", NULL},
    {"lock-timeout negative", "m.sql",
     "-- convoy:lock-timeout -5ms\nALTER TABLE users ADD COLUMN bio text;\n", false, 1, 0,
     "invalid duration", NULL},
    {"lock-timeout unknown unit", "m.sql",
     "-- convoy:lock-timeout 5 parsecs\nALTER TABLE users ADD COLUMN bio text;\n", false, 1, 0,
     "invalid duration", NULL},
    {"lock-timeout zero is out of range", "m.sql",
     "-- convoy:lock-timeout 0ms\nALTER TABLE users ADD COLUMN bio text;\n", false, 1, 0,
     "out of range", NULL},
    {"lock-timeout too long", "m.sql",
     "\n-- convoy:lock-timeout 20s\nALTER TABLE users ADD COLUMN bio text;\n", false, 2, 0,
     "out of range", NULL},
    {"batch-target empty", "m.sql",
     "-- convoy:batch-target\nALTER TABLE users ADD COLUMN bio text;\n", false, 1, 0,
     "invalid duration", NULL},
    {"backfill with a bad expression", "m.sql",
     "-- convoy:backfill last_login = created_at +\n"
     "ALTER TABLE users ADD COLUMN last_login timestamptz;\n",
     false, 1, 0, "invalid backfill expression", NULL},
    {"backfill with a subquery and FROM", "m.sql",
     "-- convoy:backfill last_login = (SELECT 1) FROM x\n"
     "ALTER TABLE users ADD COLUMN last_login timestamptz;\n",
     false, 1, 0, "not a query", NULL},
    {"backfill smuggling a second statement", "m.sql",
     "-- convoy:backfill last_login = now(); DROP TABLE users\n"
     "ALTER TABLE users ADD COLUMN last_login timestamptz;\n",
     false, 1, 0, "single SQL expression", NULL},
    {"backfill without '='", "m.sql",
     "-- convoy:backfill last_login created_at\n"
     "ALTER TABLE users ADD COLUMN last_login timestamptz;\n",
     false, 1, 0, "expected '='", NULL},
    {"backfill without an expression", "m.sql",
     "-- convoy:backfill last_login =\nALTER TABLE users ADD COLUMN last_login timestamptz;\n",
     false, 1, 0, "missing the expression", NULL},
    {"backfill twice for one column", "m.sql",
     "-- convoy:backfill last_login = now()\n-- convoy:backfill last_login = created_at\n"
     "ALTER TABLE users ADD COLUMN last_login timestamptz;\n",
     false, 2, 0, "convoy:backfill for column last_login is given twice (lines 1 and 2)", NULL},
    {"invalid name", "m.sql", "-- convoy:name no spaces!\nSELECT 1;\n", false, 1, 0,
     "invalid convoy:name", NULL},
    {"name directive sets the name", "db/0001_x.sql",
     "-- convoy:name add-last-login\nALTER TABLE users ADD COLUMN bio text;\n", true, 0, 0, NULL,
     "add-last-login"},
    {"default name is the file basename without extension", "db/migrate/20240501_add_login.sql",
     "ALTER TABLE users ADD COLUMN bio text;\n", true, 0, 0, NULL, "20240501_add_login"},
    {"default name of a bare file name", "0007_drop_default.sql",
     "ALTER TABLE users ALTER COLUMN age DROP DEFAULT;\n", true, 0, 0, NULL, "0007_drop_default"},
};

static void
run_parse_case(void **state)
{
    const parse_case_t *tc = *state;
    migration_t m;
    parse_error_t err;
    bool ok = migration_parse(tc->path, tc->text, &m, &err);
    char name[128] = "";

    if (ok)
        snprintf(name, sizeof(name), "%s", m.name);
    migration_free(&m);
    if (ok != tc->ok)
        fail_msg("%s: migration_parse returned %d (error %d:%d: %s)", tc->name, ok, err.line,
                 err.column, err.message);
    if (!ok) {
        if (tc->line && err.line != tc->line)
            fail_msg("%s: error on line %d, expected %d (%s)", tc->name, err.line, tc->line,
                     err.message);
        if (err.column <= 0 || (tc->column && err.column != tc->column))
            fail_msg("%s: error column %d, expected %d", tc->name, err.column, tc->column);
        if (tc->msg && strstr(err.message, tc->msg) == NULL)
            fail_msg("%s: message \"%s\" lacks \"%s\"", tc->name, err.message, tc->msg);
    }
    if (ok && tc->mig_name && strcmp(name, tc->mig_name) != 0)
        fail_msg("%s: name \"%s\", expected \"%s\"", tc->name, name, tc->mig_name);
}

/* Directives land in the migration, and backfills record whether they read columns. */
static void
test_parse_directives(void **state)
{
    static const char text[] = "-- convoy:lock-timeout 2s\n"
                               "--convoy:batch-target 500ms\n"
                               "  -- convoy:statement-timeout 1m\n"
                               "-- convoy:backfill users.last_login = coalesce(updated_at, "
                               "created_at)\n"
                               "-- convoy:backfill plan = 'free'\n"
                               "ALTER TABLE users ADD COLUMN last_login timestamptz, ADD COLUMN "
                               "plan text;\n";
    migration_t m;
    parse_error_t err;

    (void)state;
    assert_true(migration_parse("m.sql", text, &m, &err));
    assert_int_equal(m.lock_timeout_ms, 2000);
    assert_int_equal(m.batch_target_ms, 500);
    assert_int_equal(m.statement_timeout_ms, 60000);
    assert_int_equal(m.n_backfills, 2);
    assert_string_equal(m.backfills[0].table, "users");
    assert_string_equal(m.backfills[0].column, "last_login");
    assert_string_equal(m.backfills[0].expr_sql, "COALESCE(updated_at, created_at)");
    assert_true(m.backfills[0].reads_columns);
    assert_int_equal(m.backfills[0].line, 4);
    assert_null(m.backfills[1].table);
    assert_string_equal(m.backfills[1].column, "plan");
    assert_false(m.backfills[1].reads_columns);
    assert_int_equal(m.n_actions, 2);
    assert_int_equal(m.actions[0].kind, ACT_ADD_COLUMN);
    assert_int_equal(m.actions[1].kind, ACT_ADD_COLUMN);
    assert_int_equal(strlen(m.checksum), 64);
    migration_free(&m);
}

/* Statement positions count lines correctly after multi-byte text. */
static void
test_parse_positions(void **state)
{
    static const char text[] = "-- \xc3\xa9t\xc3\xa9 \xe2\x82\xac\n"
                               "ALTER TABLE users ADD COLUMN bio text;\n"
                               "\n"
                               "  -- note\n"
                               "  CREATE INDEX ON users (bio);\n";
    migration_t m;
    parse_error_t err;

    (void)state;
    assert_true(migration_parse("m.sql", text, &m, &err));
    assert_int_equal(m.n_actions, 2);
    assert_int_equal(m.actions[0].line, 2);
    assert_int_equal(m.actions[0].line_col, 1);
    assert_string_equal(m.actions[0].stmt_sql, "ALTER TABLE users ADD COLUMN bio text");
    assert_int_equal(m.actions[1].line, 5);
    assert_int_equal(m.actions[1].line_col, 3);
    assert_int_equal(m.actions[1].kind, ACT_CREATE_INDEX);
    migration_free(&m);
}

/* Same text, same checksum; one byte more, another. */
static void
test_parse_checksum(void **state)
{
    migration_t a, b, c;
    parse_error_t err;

    (void)state;
    assert_true(migration_parse("a.sql", "SELECT 1;", &a, &err));
    assert_true(migration_parse("b.sql", "SELECT 1;", &b, &err));
    assert_true(migration_parse("c.sql", "SELECT 1; ", &c, &err));
    assert_string_equal(a.checksum, b.checksum);
    assert_string_not_equal(a.checksum, c.checksum);
    migration_free(&a);
    migration_free(&b);
    migration_free(&c);
}

int
main(void)
{
    size_t n_plan = sizeof(plan_cases) / sizeof(plan_cases[0]);
    size_t n_parse = sizeof(parse_cases) / sizeof(parse_cases[0]);
    const struct CMUnitTest misc[] = {
        cmocka_unit_test(test_parse_directives),
        cmocka_unit_test(test_parse_positions),
        cmocka_unit_test(test_parse_checksum),
    };
    struct CMUnitTest *tests = xcalloc(n_plan, sizeof(*tests));
    struct CMUnitTest *ptests = xcalloc(n_parse, sizeof(*ptests));
    int failed = 0;

    for (size_t i = 0; i < n_plan; i++) {
        tests[i].name = plan_cases[i].name;
        tests[i].test_func = run_plan_case;
        tests[i].initial_state = (void *)&plan_cases[i];
    }
    for (size_t i = 0; i < n_parse; i++) {
        ptests[i].name = parse_cases[i].name;
        ptests[i].test_func = run_parse_case;
        ptests[i].initial_state = (void *)&parse_cases[i];
    }
    failed += _cmocka_run_group_tests("planner", tests, n_plan, NULL, NULL);
    failed += _cmocka_run_group_tests("parse", ptests, n_parse, NULL, NULL);
    failed += cmocka_run_group_tests_name("parse_misc", misc, NULL, NULL);
    free(tests);
    free(ptests);
    return failed == 0 ? 0 : 1;
}
