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

/* Expected step link (1-based step number); NONE: no link; 0: unchecked (none in a .links case). */
#define NONE (-1)

/* Expected number of locks, offset by one so that 0 means "unchecked". */
#define NLOCKS(n) ((n) + 1)

/* Expected lock mode, offset by one so that 0 means "unchecked". */
#define LK(mode) ((int)(mode) + 1)
#define AE       LK(LOCK_ACCESS_EXCLUSIVE)
#define SRE      LK(LOCK_SHARE_ROW_EXCLUSIVE)
#define SUE      LK(LOCK_SHARE_UPDATE_EXCLUSIVE)
#define RE       LK(LOCK_ROW_EXCLUSIVE)
#define RS       LK(LOCK_ROW_SHARE)
#define AS       LK(LOCK_ACCESS_SHARE)

#define MAX_EXP_STEPS 18

typedef struct {
    step_kind_t kind;
    const char *sql;        /* substring of the step's SQL; NULL: unchecked */
    const char *not_sql[2]; /* substrings that must not occur in it */
    const char *table;      /* table of the first lock, as SQL; NULL: unchecked */
    int lock;               /* LK(mode) of the first lock, or 0 */
    const char *table2;     /* table of the second lock (the referenced one) */
    int lock2;              /* LK(mode) of the second lock, or 0 */
    int n_locks;            /* NLOCKS(n): exactly n locks; 0: unchecked */
    const char *summary;    /* substring of the step's summary; NULL: unchecked */
    int rewrites, scans, transactional;
    int line; /* the source statement's line; 0: unchecked */

    /* undo and links (see plan.h); in a case with .links every unset one must be absent */
    const char *undo; /* exact undo_sql; NULL: unchecked (none in a .links case) */
    int final_step, requires, fill_step;

    int catchup;           /* STEP_BACKFILL: tri-state */
    const char *table_sql; /* exact table_sql (backfill, index); NULL: unchecked */

    /* STEP_PRECHECK */
    const char *count_sql;  /* exact */
    const char *sample_sql; /* exact */
    const char *check_desc; /* exact */
} exp_step_t;

/*
 * Step shapes, one per kind of step the planner emits. The _F forms are the bare designators,
 * for an expectation that adds fields of its own: {DDL_F(s, t), .undo = "..."}.
 */
#define DDL_F(s, tbl)                                                                              \
    .kind = STEP_DDL, .sql = (s), .table = (tbl), .lock = AE, .rewrites = NO, .scans = NO,         \
    .transactional = YES
#define DDL(s, tbl)                                                                                \
    {                                                                                              \
        DDL_F(s, tbl)                                                                              \
    }
#define VALIDATE_F(s, tbl)                                                                         \
    .kind = STEP_VALIDATE, .sql = (s), .table = (tbl), .lock = SUE, .rewrites = NO, .scans = YES,  \
    .transactional = YES
#define VALIDATE(s, tbl)                                                                           \
    {                                                                                              \
        VALIDATE_F(s, tbl)                                                                         \
    }
#define BACKFILL_F(s, tbl)                                                                         \
    .kind = STEP_BACKFILL, .sql = (s), .table = (tbl), .lock = RE, .rewrites = NO, .scans = YES,   \
    .transactional = YES
#define BACKFILL(s, tbl)                                                                           \
    {                                                                                              \
        BACKFILL_F(s, tbl)                                                                         \
    }
/* The first, batched pass of a backfill. */
#define FILL(s, tbl)                                                                               \
    {                                                                                              \
        BACKFILL_F(s, tbl), .catchup = NO                                                          \
    }
/* The second pass after the sync trigger: a catch-up (reads columns) or a second fill. */
#define CATCHUP(s, tbl, trg, fill)                                                                 \
    {                                                                                              \
        BACKFILL_F(s, tbl), .catchup = YES, .requires = (trg), .fill_step = (fill)                 \
    }
#define REFILL(s, tbl, trg, fill)                                                                  \
    {                                                                                              \
        BACKFILL_F(s, tbl), .catchup = NO, .requires = (trg), .fill_step = (fill)                  \
    }
#define INDEX_F(s, tbl)                                                                            \
    .kind = STEP_INDEX, .sql = (s), .not_sql = {"IF NOT EXISTS"}, .table = (tbl), .lock = SUE,     \
    .rewrites = NO, .scans = YES, .transactional = NO, .table_sql = (tbl)
#define INDEX(s, tbl)                                                                              \
    {                                                                                              \
        INDEX_F(s, tbl)                                                                            \
    }
#define FK_DDL_F(s, tbl, ref)                                                                      \
    .kind = STEP_DDL, .sql = (s), .table = (tbl), .lock = SRE, .table2 = (ref), .lock2 = SRE,      \
    .rewrites = NO, .scans = NO, .transactional = YES
#define FK_DDL(s, tbl, ref)                                                                        \
    {                                                                                              \
        FK_DDL_F(s, tbl, ref)                                                                      \
    }
/* FK ... NOT VALID that VALIDATE step `val` makes permanent; dropped if the migration stops. */
#define FK_ADD(s, tbl, ref, con, val)                                                              \
    {                                                                                              \
        FK_DDL_F(s, tbl, ref), .undo = "ALTER TABLE " tbl " DROP CONSTRAINT IF EXISTS " con,       \
                               .final_step = (val)                                                 \
    }
#define PRECHECK_F(s, tbl)                                                                         \
    .kind = STEP_PRECHECK, .sql = (s), .table = (tbl), .lock = AS, .rewrites = NO, .scans = YES,   \
    .transactional = YES
#define ORPHAN(s, tbl, ref)                                                                        \
    {                                                                                              \
        PRECHECK_F(s, tbl),                                                                        \
            .table2 = (ref), .lock2 = AS,                                                          \
            .check_desc = "reference a row of " ref " that does not exist (orphans)"               \
    }
#define FK_VALIDATE_F(s, tbl, ref)                                                                 \
    .kind = STEP_VALIDATE, .sql = (s), .table = (tbl), .lock = SUE, .table2 = (ref), .lock2 = RS,  \
    .rewrites = NO, .scans = YES, .transactional = YES
#define FK_VALIDATE(s, tbl, ref, add)                                                              \
    {                                                                                              \
        FK_VALIDATE_F(s, tbl, ref), .requires = (add)                                              \
    }
/* The sync trigger, installed after the first pass; `drop` is its removal step. */
#define TRIGGER(s, tbl, trg, fn, drop)                                                             \
    {                                                                                              \
        .kind = STEP_DDL, .sql = (s), .table = (tbl), .lock = SRE, .rewrites = NO, .scans = NO,    \
        .transactional = YES,                                                                      \
        .undo =                                                                                    \
            "DROP TRIGGER IF EXISTS " trg " ON " tbl ";\nDROP FUNCTION IF EXISTS convoy." fn "()", \
        .final_step = (drop)                                                                       \
    }
#define UNTRIGGER(tbl, trg, fn)                                                                    \
    DDL("DROP TRIGGER IF EXISTS " trg " ON " tbl ";\nDROP FUNCTION IF EXISTS convoy." fn "()", tbl)
#define PASS(s)                                                                                    \
    {                                                                                              \
        .kind = STEP_PASSTHROUGH, .sql = (s), .rewrites = NO, .transactional = YES                 \
    }
/* ADD COLUMN without DEFAULT or NOT NULL (the first step of the expand path). */
#define ADD_NULLABLE_F(s, tbl)                                                                     \
    .kind = STEP_DDL, .sql = (s), .not_sql = {"DEFAULT", "NOT NULL"}, .table = (tbl), .lock = AE,  \
    .rewrites = NO, .scans = NO, .transactional = YES
#define ADD_NULLABLE(s, tbl)                                                                       \
    {                                                                                              \
        ADD_NULLABLE_F(s, tbl)                                                                     \
    }
/* The NOT NULL pre-check: rows of tbl (as c) with a NULL col; `sample`: its exact sample_sql. */
#define NOT_NULL_PRECHECK(tbl, col, sample)                                                        \
    {                                                                                              \
        PRECHECK_F("SELECT count(*) FROM " tbl " c WHERE c." col " IS NULL", tbl),                 \
            .count_sql = "SELECT count(*) FROM " tbl " c WHERE c." col " IS NULL",                 \
            .sample_sql = (sample), .check_desc = "have a NULL " col                               \
    }
/*
 * CHECK (col IS NOT NULL) NOT VALID -> VALIDATE -> SET NOT NULL -> DROP CONSTRAINT, after a
 * pre-check that is step n. The helper check is undone until it is dropped (step n+4);
 * VALIDATE and SET NOT NULL need it in place. `col` is the column as SQL.
 */
#define NOT_NULL_STEPS(tbl, chk, col, n)                                                           \
    {DDL_F("ALTER TABLE " tbl " ADD CONSTRAINT " chk " CHECK (" col " IS NOT NULL) NOT VALID",     \
           tbl),                                                                                   \
     .undo = "ALTER TABLE " tbl " DROP CONSTRAINT IF EXISTS " chk, .final_step = (n) + 4},         \
        {VALIDATE_F("ALTER TABLE " tbl " VALIDATE CONSTRAINT " chk, tbl), .requires = (n) + 1},    \
        {DDL_F("ALTER TABLE " tbl " ALTER COLUMN " col " SET NOT NULL", tbl),                      \
         .requires = (n) + 1},                                                                     \
        DDL("ALTER TABLE " tbl " DROP CONSTRAINT " chk, tbl)
/* The whole NOT NULL sequence, its pre-check being step n. */
#define NOT_NULL_DANCE(tbl, chk, col, n)                                                           \
    NOT_NULL_PRECHECK(tbl, col, NULL), NOT_NULL_STEPS(tbl, chk, col, n)

/* -------------------------------------------------------------- live facts */

/* A table as the catalog describes it. */
typedef struct {
    const char *schema_given; /* as the migration wrote it; NULL: unqualified */
    const char *name;         /* as written and as resolved (schema resolves to public) */
    bool missing;             /* the catalog has no such table */
    int64_t rows;             /* has_rows when > 0 */
    const char *cols[8];      /* "name type", with a trailing '!' for NOT NULL */
    const char *pk[3];
    const char *indexes[4];     /* "name:col1,col2" */
    const char *constraints[4]; /* "name:contype" (pg_constraint.contype: c, f, u, p, x) */
} tbl_spec_t;

typedef struct {
    size_t action;
    bool fast, immutable, domain;
    const char *error;
    const char *backfill_error, *backfill_key; /* the sampled backfill failed on this row */
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
static const live_spec_t live_memberships = {
    .tables = {{.name = "memberships",
                .rows = 20,
                .cols = {"org_id bigint!", "user_id bigint!", "role text"},
                .pk = {"org_id", "user_id"}}}};

/* users and orders with the constraints the catalog reports (pg_constraint.contype) */
static const live_spec_t live_constraints = {
    .tables = {
        {.name = "users",
         .rows = 1000000,
         .cols = USERS_COLS,
         .pk = {"id"},
         .indexes = {"users_pkey:id", "users_email_key:email"},
         .constraints = {"users_pkey:p", "users_email_key:u", "age_positive:c"}},
        {.name = "orders",
         .rows = 5000000,
         .cols = {"id bigint!", "user_id bigint", "total numeric", "created_at timestamptz!"},
         .pk = {"id"},
         .indexes = {"orders_pkey:id"},
         .constraints = {"orders_pkey:p", "orders_user_fk:f"}}}};

/* A brief statement run as written: one lock on `tbl`, in a transaction, no scan. */
#define BRIEF(s, tbl, lk)                                                                          \
    {                                                                                              \
        .kind = STEP_PASSTHROUGH, .sql = (s), .table = (tbl), .lock = (lk), .n_locks = NLOCKS(1),  \
        .rewrites = NO, .scans = NO, .transactional = YES                                          \
    }
/* A statement run as written that locks no table (catalog only). */
#define CATALOG_ONLY(s)                                                                            \
    {                                                                                              \
        .kind = STEP_PASSTHROUGH, .sql = (s), .n_locks = NLOCKS(0), .rewrites = NO, .scans = NO,   \
        .transactional = YES                                                                       \
    }

/* ------------------------------------------------------------------- cases */

typedef struct {
    const char *name;
    const char *sql;         /* a whole migration file */
    const live_spec_t *live; /* NULL: planned offline */
    size_t n_steps;
    exp_step_t steps[MAX_EXP_STEPS];
    size_t n_refusals, n_errors, n_warnings;
    const char *note;             /* substring of some refusal, error or warning message */
    int note_line;                /* the line of that note; 0: unchecked */
    const char *fix;              /* substring of some note's fix */
    const char *quoted[2];        /* every occurrence in the generated SQL lies inside "..." */
    int64_t lock_timeout_ms;      /* 0: unchecked */
    int64_t statement_timeout_ms; /* 0: unchecked */
    const char *assumption;       /* substring of some assumption */
    bool links; /* undo, final_step, requires and fill_step are exact: unset ones must be absent */
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
        .n_warnings = 0, /* the volatile default is explained in a summary */
    },

    /* ---- volatile defaults: the expand path */
    {
        .name = "volatile gen_random_uuid() NOT NULL offline: full expand sequence",
        .sql = "ALTER TABLE users ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid();",
        .n_steps = 8,
        .steps = {ADD_NULLABLE("ALTER TABLE users ADD COLUMN token uuid", "users"),
                  DDL("ALTER TABLE users ALTER COLUMN token SET DEFAULT gen_random_uuid()",
                      "users"),
                  FILL("UPDATE users SET token = gen_random_uuid() WHERE (id) > ($1)", "users"),
                  NOT_NULL_DANCE("users", "convoy_users_token_not_null", "token", 4)},
        .n_warnings = 0, /* explained in step 1's summary, not a warning */
        .links = true,
    },
    {
        .name = "volatile clock_timestamp() NOT NULL live (probe: not fast)",
        .sql = "ALTER TABLE users ADD COLUMN seen_at timestamptz NOT NULL DEFAULT "
               "clock_timestamp();",
        .live = &(const live_spec_t){.tables = {USERS},
                                     .defaults = {{0, .fast = false}},
                                     .n_defaults = 1},
        .n_steps = 8,
        .steps = {ADD_NULLABLE("ALTER TABLE public.users ADD COLUMN seen_at timestamptz",
                               "public.users"),
                  DDL("SET DEFAULT clock_timestamp()", "public.users"),
                  FILL("UPDATE public.users SET seen_at = clock_timestamp() WHERE (id) > ($1)",
                       "public.users"),
                  NOT_NULL_DANCE("public.users", "convoy_users_seen_at_not_null", "seen_at", 4)},
        .n_warnings = 0, /* explained in step 1's summary, not a warning */
        .links = true,
    },
    {
        .name = "volatile default without NOT NULL: no check steps",
        .sql = "ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();",
        .n_steps = 3,
        .steps = {ADD_NULLABLE("ADD COLUMN token uuid", "users"),
                  DDL("SET DEFAULT gen_random_uuid()", "users"),
                  BACKFILL("SET token = gen_random_uuid()", "users")},
        .n_warnings = 0, /* explained in step 1's summary, not a warning */
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
        .n_warnings = 0, /* the volatile default is explained in a summary */
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
        .n_steps = 7,
        .steps = {ADD_NULLABLE("ADD COLUMN token uuid", "public.users"),
                  DDL("SET DEFAULT gen_random_uuid()", "public.users"),
                  NOT_NULL_DANCE("public.users", "convoy_users_token_not_null", "token", 3)},
        .n_warnings = 0, /* the volatile default is explained in a summary */
        .links = true,
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
        .n_steps = 10,
        .steps = {ADD_NULLABLE("ALTER TABLE users ADD COLUMN plan text", "users"),
                  FILL("UPDATE users SET plan = 'free' WHERE (id) > ($1) AND (id) <= ($2) AND "
                       "plan IS NULL",
                       "users"),
                  TRIGGER("CREATE TRIGGER convoy_users_plan_sync",
                          "users",
                          "convoy_users_plan_sync",
                          "users_plan_backfill_sync",
                          8 /* NOT NULL without a DEFAULT: the trigger stays once it is set */),
                  /* 'free' reads no column: a second fill of the NULLs, not a catch-up */
                  REFILL("UPDATE users SET plan = 'free' WHERE (id) > ($1) AND (id) <= ($2) AND "
                         "plan IS NULL",
                         "users",
                         3,
                         2),
                  NOT_NULL_DANCE("users", "convoy_users_plan_not_null", "plan", 5),
                  UNTRIGGER("users", "convoy_users_plan_sync", "users_plan_backfill_sync")},
        .links = true,
    },
    {
        .name = "backfill directive reading columns: sync trigger, and its cleanup last",
        .sql = "-- convoy:backfill last_login = created_at\n"
               "ALTER TABLE users ADD COLUMN last_login timestamptz NOT NULL;\n",
        .n_steps = 10,
        .steps = {ADD_NULLABLE("ADD COLUMN last_login timestamptz", "users"),
                  FILL("UPDATE users SET last_login = created_at WHERE (id) > ($1) AND (id) <= "
                       "($2) AND last_login IS NULL",
                       "users"),
                  TRIGGER("CREATE TRIGGER convoy_users_last_login_sync BEFORE INSERT OR UPDATE ON "
                          "users",
                          "users",
                          "convoy_users_last_login_sync",
                          "users_last_login_backfill_sync",
                          8 /* NOT NULL without a DEFAULT: the trigger stays once it is set */),
                  CATCHUP("UPDATE users SET last_login = created_at WHERE (id) > ($1) AND (id) <= "
                          "($2) AND last_login IS DISTINCT FROM (created_at)",
                          "users",
                          3,
                          2),
                  NOT_NULL_DANCE("users", "convoy_users_last_login_not_null", "last_login", 5),
                  UNTRIGGER(
                      "users", "convoy_users_last_login_sync", "users_last_login_backfill_sync")},
        .links = true,
    },
    {
        .name = "seed statement with a backfill directive (live): expand path, no warning",
        .sql = "-- convoy:backfill last_login = created_at\n"
               "ALTER TABLE users\n"
               "ADD COLUMN last_login TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL;\n",
        .live = &(
            const live_spec_t){.tables = {USERS}, .defaults = {{0, .fast = true}}, .n_defaults = 1},
        .n_steps = 11,
        .steps = {ADD_NULLABLE("ADD COLUMN last_login timestamp with time zone", "public.users"),
                  DDL("ALTER COLUMN last_login SET DEFAULT now()", "public.users"),
                  FILL("UPDATE public.users SET last_login = created_at", "public.users"),
                  TRIGGER("CREATE TRIGGER convoy_users_last_login_sync",
                          "public.users",
                          "convoy_users_last_login_sync",
                          "users_last_login_backfill_sync",
                          11),
                  CATCHUP("UPDATE public.users SET last_login = created_at WHERE (id) > ($1) AND "
                          "(id) <= ($2) AND last_login IS DISTINCT FROM (created_at)",
                          "public.users",
                          4,
                          3),
                  NOT_NULL_DANCE(
                      "public.users", "convoy_users_last_login_not_null", "last_login", 6),
                  UNTRIGGER("public.users",
                            "convoy_users_last_login_sync",
                            "users_last_login_backfill_sync")},
        .links = true,
    },
    {
        .name = "backfill directive with a quoted mixed-case column",
        .sql = "-- convoy:backfill \"lastLogin\" = \"createdAt\"\n"
               "ALTER TABLE \"Users\" ADD COLUMN \"lastLogin\" timestamptz;\n",
        .n_steps = 5,
        .steps = {ADD_NULLABLE("ALTER TABLE \"Users\" ADD COLUMN \"lastLogin\" timestamptz",
                               "\"Users\""),
                  FILL("UPDATE \"Users\" SET \"lastLogin\" = \"createdAt\"", "\"Users\""),
                  TRIGGER("CREATE TRIGGER \"convoy_Users_lastLogin_sync\"",
                          "\"Users\"",
                          "\"convoy_Users_lastLogin_sync\"",
                          "\"Users_lastLogin_backfill_sync\"",
                          5),
                  CATCHUP("\"lastLogin\" IS DISTINCT FROM (\"createdAt\")", "\"Users\"", 3, 2),
                  UNTRIGGER("\"Users\"",
                            "\"convoy_Users_lastLogin_sync\"",
                            "\"Users_lastLogin_backfill_sync\"")},
        .links = true,
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
        .name =
            "inline REFERENCES: orphan pre-check, NOT VALID, validate; a warning names the index",
        .sql = "ALTER TABLE orders ADD COLUMN buyer_id bigint REFERENCES users (id);",
        .n_steps = 4,
        .steps = {ADD_NULLABLE("ALTER TABLE orders ADD COLUMN buyer_id bigint", "orders"),
                  ORPHAN("SELECT count(*) FROM orders c WHERE c.buyer_id IS NOT NULL AND NOT "
                         "EXISTS (SELECT 1 FROM users p WHERE p.id = c.buyer_id)",
                         "orders",
                         "users"),
                  FK_ADD("ALTER TABLE orders ADD CONSTRAINT orders_buyer_id_fkey FOREIGN KEY "
                         "(buyer_id) REFERENCES users (id) NOT VALID",
                         "orders",
                         "users",
                         "orders_buyer_id_fkey",
                         4),
                  FK_VALIDATE("ALTER TABLE orders VALIDATE CONSTRAINT orders_buyer_id_fkey",
                              "orders",
                              "users",
                              3)},
        /* psql builds no index for a foreign key: convoy says which one to add */
        .n_warnings = 1,
        .note = "no index leads with buyer_id: every DELETE or key UPDATE on users scans orders",
        .note_line = 1,
        .fix = "`CREATE INDEX CONCURRENTLY orders_buyer_id_idx ON orders (buyer_id);`",
        .links = true,
    },
    {
        .name =
            "ADD CONSTRAINT FOREIGN KEY live without a covering index: a warning, no index step",
        .sql = "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) "
               "REFERENCES users (id);",
        .live = &live_orders_no_index,
        .n_steps = 3,
        .steps = {ORPHAN("SELECT count(*) FROM public.orders c", "public.orders", "public.users"),
                  FK_ADD("ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users "
                         "(id) NOT VALID",
                         "public.orders",
                         "public.users",
                         "orders_user_fk",
                         3),
                  FK_VALIDATE(
                      "VALIDATE CONSTRAINT orders_user_fk", "public.orders", "public.users", 2)},
        .n_warnings = 1,
        .note = "no index leads with user_id: every DELETE or key UPDATE on public.users scans "
                "public.orders",
        .fix = "`CREATE INDEX CONCURRENTLY orders_user_id_idx ON public.orders (user_id);`",
        .links = true,
    },
    {
        .name = "ADD CONSTRAINT FOREIGN KEY live with an index on the column: no index step",
        .sql = "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) "
               "REFERENCES users (id);",
        .live = &(const live_spec_t){.tables = {USERS, ORDERS("orders_user_id_idx:user_id")}},
        .n_steps = 3,
        .steps = {ORPHAN(NULL, "public.orders", "public.users"),
                  FK_DDL("NOT VALID", "public.orders", "public.users"),
                  FK_VALIDATE(
                      "VALIDATE CONSTRAINT orders_user_fk", "public.orders", "public.users", 2)},
    },
    {
        .name = "FK live: a composite index led by the column covers it",
        .sql = "ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES users (id);",
        .live =
            &(const live_spec_t){
                .tables = {USERS, ORDERS("orders_user_created_idx:user_id,created_at")}},
        .n_steps = 3,
        .steps = {ORPHAN(NULL, "public.orders", "public.users"),
                  FK_DDL("ADD CONSTRAINT orders_user_id_fkey FOREIGN KEY",
                         "public.orders",
                         "public.users"),
                  FK_VALIDATE(NULL, "public.orders", "public.users", 2)},
    },
    {
        .name = "FK live: an index with the column second does not cover it (warning)",
        .sql = "ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES users (id);",
        .live =
            &(const live_spec_t){
                .tables = {USERS, ORDERS("orders_created_user_idx:created_at,user_id")}},
        .n_steps = 3,
        .steps = {ORPHAN(NULL, "public.orders", "public.users"),
                  FK_DDL(NULL, "public.orders", "public.users"),
                  FK_VALIDATE(NULL, "public.orders", "public.users", 2)},
        .n_warnings = 1,
        .note = "no index leads with user_id",
        .fix = "CREATE INDEX CONCURRENTLY orders_user_id_idx ON public.orders (user_id);",
    },
    {
        .name = "FK after a CREATE INDEX on the column in the same file: no warning, file order",
        .sql = "CREATE INDEX orders_user_id_ix ON orders (user_id);\n"
               "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) "
               "REFERENCES users (id);\n",
        .n_steps = 4,
        .steps = {{INDEX_F("CREATE INDEX CONCURRENTLY orders_user_id_ix ON orders", "orders"),
                   .line = 1},
                  ORPHAN(NULL, "orders", "users"),
                  FK_ADD("orders_user_fk", "orders", "users", "orders_user_fk", 4),
                  FK_VALIDATE(NULL, "orders", "users", 3)},
        .links = true,
    },
    {
        .name = "FK before a CREATE INDEX on the column later in the file: no warning, no extra "
                "index",
        .sql = "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) "
               "REFERENCES users (id);\n"
               "CREATE INDEX orders_user_id_ix ON orders (user_id);\n",
        .n_steps = 4,
        .steps = {ORPHAN(NULL, "orders", "users"),
                  FK_ADD("orders_user_fk", "orders", "users", "orders_user_fk", 3),
                  FK_VALIDATE(NULL, "orders", "users", 2),
                  {INDEX_F("CREATE INDEX CONCURRENTLY orders_user_id_ix ON orders", "orders"),
                   .line = 2}},
        .links = true,
    },
    {
        .name = "FK given NOT VALID: no orphan check or validation",
        .sql = "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) "
               "REFERENCES users (id) NOT VALID;",
        .n_steps = 1,
        .steps = {FK_DDL(
            "FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID", "orders", "users")},
        .n_warnings = 1,
        .fix = "CREATE INDEX CONCURRENTLY orders_user_id_idx ON orders (user_id);",
        .links = true, /* the user's own NOT VALID is kept: nothing to undo */
    },
    {
        .name = "multi-column FK: named after every column, every column checked",
        .sql = "ALTER TABLE line_items ADD FOREIGN KEY (order_id, region) REFERENCES orders (id, "
               "region);",
        .n_steps = 3,
        .steps = {ORPHAN("c.order_id IS NOT NULL AND c.region IS NOT NULL AND NOT EXISTS (SELECT "
                         "1 FROM orders p WHERE p.id = c.order_id AND p.region = c.region)",
                         "line_items",
                         "orders"),
                  FK_ADD("ADD CONSTRAINT line_items_order_id_region_fkey FOREIGN KEY (order_id, "
                         "region) REFERENCES orders (id, region) NOT VALID",
                         "line_items",
                         "orders",
                         "line_items_order_id_region_fkey",
                         3),
                  FK_VALIDATE("VALIDATE CONSTRAINT line_items_order_id_region_fkey",
                              "line_items",
                              "orders",
                              2)},
        .n_warnings = 1,
        .note = "no index leads with order_id, region: every DELETE or key UPDATE on orders "
                "scans line_items",
        .fix = "`CREATE INDEX CONCURRENTLY line_items_order_id_region_idx ON line_items (order_id, "
               "region);`",
    },
    {
        .name = "index-foreign-keys directive: the FK's index is planned after its validation",
        .sql = "-- convoy:index-foreign-keys\n"
               "ALTER TABLE orders ADD COLUMN buyer_id bigint REFERENCES users (id);\n",
        .n_steps = 5,
        .steps = {ADD_NULLABLE("ALTER TABLE orders ADD COLUMN buyer_id bigint", "orders"),
                  ORPHAN(NULL, "orders", "users"),
                  FK_ADD("ADD CONSTRAINT orders_buyer_id_fkey FOREIGN KEY (buyer_id) REFERENCES "
                         "users (id) NOT VALID",
                         "orders",
                         "users",
                         "orders_buyer_id_fkey",
                         4),
                  FK_VALIDATE("VALIDATE CONSTRAINT orders_buyer_id_fkey", "orders", "users", 3),
                  {INDEX_F("CREATE INDEX CONCURRENTLY orders_buyer_id_idx ON orders (buyer_id)",
                           "orders"),
                   .line = 2, .summary = "(-- convoy:index-foreign-keys)"}},
        .links = true,
    },
    {
        .name = "index-foreign-keys directive live: PostgreSQL-style name of every column",
        .sql = "-- convoy:index-foreign-keys\n"
               "ALTER TABLE orders ADD FOREIGN KEY (user_id, total) REFERENCES users (id, age);\n",
        .live = &live_orders_no_index,
        .n_steps = 4,
        .steps = {ORPHAN(NULL, "public.orders", "public.users"),
                  FK_DDL(NULL, "public.orders", "public.users"),
                  FK_VALIDATE(NULL, "public.orders", "public.users", 2),
                  {INDEX_F("CREATE INDEX CONCURRENTLY orders_user_id_total_idx ON public.orders "
                           "(user_id, total)",
                           "public.orders"),
                   .summary = "(-- convoy:index-foreign-keys)"}},
    },
    {
        .name = "index-foreign-keys directive with a covering index: nothing extra, no warning",
        .sql = "-- convoy:index-foreign-keys\n"
               "ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES users (id);\n",
        .live = &(const live_spec_t){.tables = {USERS, ORDERS("orders_user_id_idx:user_id")}},
        .n_steps = 3,
        .steps = {ORPHAN(NULL, "public.orders", "public.users"),
                  FK_DDL(NULL, "public.orders", "public.users"),
                  FK_VALIDATE(NULL, "public.orders", "public.users", 2)},
    },
    {
        .name = "FK warning: the suggested index name is PostgreSQL's, quoted as needed",
        .sql = "ALTER TABLE \"Orders\" ADD FOREIGN KEY (\"userId\") REFERENCES \"Users\" (id);",
        .n_steps = 3,
        .steps = {ORPHAN(NULL, "\"Orders\"", "\"Users\""), FK_DDL(NULL, "\"Orders\"", "\"Users\""),
                  FK_VALIDATE(NULL, "\"Orders\"", "\"Users\"", 2)},
        .n_warnings = 1,
        .note = "no index leads with \"userId\": every DELETE or key UPDATE on \"Users\" scans "
                "\"Orders\"",
        .fix = "`CREATE INDEX CONCURRENTLY \"Orders_userId_idx\" ON \"Orders\" (\"userId\");`",
    },

    /* ---- CHECK */
    {
        .name = "CHECK: pre-check, NOT VALID, then VALIDATE",
        .sql = "ALTER TABLE users ADD CONSTRAINT age_positive CHECK (age > 0);",
        .n_steps = 3,
        .steps = {{PRECHECK_F("SELECT count(*) FROM users c WHERE NOT (age > 0)", "users"),
                   .count_sql = "SELECT count(*) FROM users c WHERE NOT (age > 0)",
                   .sample_sql = "SELECT c.ctid::text FROM users c WHERE NOT (age > 0) LIMIT 5",
                   .check_desc = "break CHECK (age > 0)"},
                  {DDL_F("ALTER TABLE users ADD CONSTRAINT age_positive CHECK (age > 0) NOT VALID",
                         "users"),
                   .undo = "ALTER TABLE users DROP CONSTRAINT IF EXISTS age_positive",
                   .final_step = 3},
                  {VALIDATE_F("ALTER TABLE users VALIDATE CONSTRAINT age_positive", "users"),
                   .requires = 2}},
        .links = true,
    },
    {
        .name = "CHECK given NOT VALID by the user: one step, no pre-check, nothing to undo",
        .sql = "ALTER TABLE users ADD CONSTRAINT age_positive CHECK (age > 0) NOT VALID;",
        .n_steps = 1,
        .steps = {DDL("CHECK (age > 0) NOT VALID", "users")},
        .links = true,
    },
    {
        .name = "unnamed CHECK on one column is named table_column_check",
        .sql = "ALTER TABLE users ADD CHECK (age >= 0);",
        .n_steps = 3,
        .steps = {{PRECHECK_F("SELECT count(*) FROM users c WHERE NOT (age >= 0)", "users")},
                  DDL("ADD CONSTRAINT users_age_check CHECK (age >= 0) NOT VALID", "users"),
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
        .name = "CREATE INDEX written after a backfilled column runs after its whole backfill",
        .sql = "-- convoy:backfill last_login = now()\n"
               "ALTER TABLE users ADD COLUMN last_login timestamptz;\n"
               "CREATE INDEX users_last_login_idx ON users (last_login);\n",
        .n_steps = 6,
        .steps = {ADD_NULLABLE("ADD COLUMN last_login timestamptz", "users"),
                  FILL("SET last_login = now()", "users"),
                  TRIGGER("CREATE TRIGGER",
                          "users",
                          "convoy_users_last_login_sync",
                          "users_last_login_backfill_sync",
                          5),
                  REFILL("SET last_login = now() WHERE (id) > ($1) AND (id) <= ($2) AND "
                         "last_login IS NULL",
                         "users",
                         3,
                         2),
                  UNTRIGGER(
                      "users", "convoy_users_last_login_sync", "users_last_login_backfill_sync"),
                  {INDEX_F("CREATE INDEX CONCURRENTLY users_last_login_idx ON users USING btree "
                           "(last_login)",
                           "users"),
                   .line = 3}},
        .links = true,
    },
    {
        .name = "CREATE INDEX written before ADD COLUMN keeps psql's order (it fails there too)",
        .sql = "CREATE INDEX users_bio_idx ON users (bio);\n"
               "ALTER TABLE users ADD COLUMN bio text;\n",
        .n_steps = 2,
        .steps = {{INDEX_F("CREATE INDEX CONCURRENTLY users_bio_idx ON users", "users"), .line = 1},
                  ADD_NULLABLE("ALTER TABLE users ADD COLUMN bio text", "users")},
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
        .name = "DROP INDEX IF EXISTS of two indexes: one DROP INDEX CONCURRENTLY each",
        .sql = "DROP INDEX IF EXISTS a_idx, b_idx;",
        .n_steps = 2,
        .steps = {{.kind = STEP_DROP_INDEX,
                   .sql = "DROP INDEX CONCURRENTLY IF EXISTS a_idx",
                   .rewrites = NO,
                   .scans = NO,
                   .transactional = NO},
                  {.kind = STEP_DROP_INDEX,
                   .sql = "DROP INDEX CONCURRENTLY IF EXISTS b_idx",
                   .rewrites = NO,
                   .scans = NO,
                   .transactional = NO}},
    },
    {
        .name = "DROP INDEX ... CASCADE: refused, naming what to drop first",
        .sql = "DROP INDEX a_idx CASCADE;",
        .n_refusals = 1,
        .note = "CASCADE",
        .fix = "DROP CONSTRAINT",
    },
    {
        .name = "unnamed UNIQUE INDEX: PostgreSQL's users_email_idx, not _key",
        .sql = "CREATE UNIQUE INDEX ON users (email);",
        .n_steps = 1,
        .steps = {{.kind = STEP_INDEX,
                   .sql = "CREATE UNIQUE INDEX CONCURRENTLY users_email_idx ON users",
                   .table = "users",
                   .lock = SUE,
                   .rewrites = NO,
                   .scans = YES,
                   .transactional = NO}},
    },
    {
        .name = "unnamed expression index: named after the function, like PostgreSQL",
        .sql = "CREATE INDEX ON users (lower(email));",
        .n_steps = 1,
        .steps = {{.kind = STEP_INDEX,
                   .sql = "CREATE INDEX CONCURRENTLY users_lower_idx ON users",
                   .table = "users",
                   .lock = SUE,
                   .rewrites = NO,
                   .scans = YES,
                   .transactional = NO}},
    },
    {
        .name = "two unnamed indexes on the same columns: the second is _idx1",
        .sql = "CREATE INDEX ON users (email);\nCREATE INDEX ON users (email);",
        .n_steps = 2,
        .steps = {{.kind = STEP_INDEX, .sql = "CONCURRENTLY users_email_idx ON"},
                  {.kind = STEP_INDEX, .sql = "CONCURRENTLY users_email_idx1 ON"}},
    },
    {
        .name = "quoted mixed-case index name keeps its quotes (Prisma)",
        .sql = "CREATE UNIQUE INDEX \"User_email_key\" ON users(\"email\");",
        .n_steps = 1,
        .steps = {{.kind = STEP_INDEX,
                   .sql = "CREATE UNIQUE INDEX CONCURRENTLY \"User_email_key\" ON users"}},
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
        .name = "ALTER COLUMN TYPE ... USING offline: refused, the server must prove it",
        .sql = "ALTER TABLE users ALTER COLUMN age TYPE bigint USING age::bigint;",
        .n_refusals = 1,
        .note = "may rewrite",
        .fix = "convoy:backfill new_age = age::bigint",
    },

    /* ---- refused statements */
    {
        .name = "RENAME COLUMN: refused, naming the expand/contract way",
        .sql = "ALTER TABLE users RENAME COLUMN name TO full_name;",
        .n_refusals = 1,
        .note = "RENAME breaks every running application version",
        .fix = "rename through expand/contract: put `-- convoy:expand` at the top of this file",
    },
    {
        .name = "RENAME COLUMN with -- convoy:expand offline: needs the live catalog",
        .sql = "-- convoy:expand\nALTER TABLE users RENAME COLUMN name TO full_name;",
        .n_refusals = 1,
        .note = "RENAME COLUMN name TO full_name through expand/contract needs the live catalog",
        .fix = "connect with --db",
    },
    {
        .name = "RENAME TABLE: refused, saying what to do today",
        .sql = "ALTER TABLE users RENAME TO people;",
        .n_refusals = 1,
        .note = "RENAME",
        .fix = "today: deploy an application version that no longer uses it, then put `-- "
               "convoy:contract` at the top of this file",
    },
    {
        .name = "DROP COLUMN: refused, saying what to do today (no contract phase to wait for)",
        .sql = "ALTER TABLE users DROP COLUMN nickname;",
        .n_refusals = 1,
        .note = "DROP COLUMN breaks every running application version",
        .fix = "today: deploy an application version that no longer uses it, then put `-- "
               "convoy:contract` at the top of this file",
    },
    {
        .name = "DROP COLUMN with -- convoy:contract: one brief ACCESS EXCLUSIVE step",
        .sql = "-- convoy:contract\nALTER TABLE users DROP COLUMN nickname;\n",
        .n_steps = 1,
        .steps = {{.kind = STEP_PASSTHROUGH,
                   .sql = "ALTER TABLE users DROP COLUMN nickname",
                   .table = "users",
                   .lock = AE,
                   .n_locks = NLOCKS(1),
                   .rewrites = NO,
                   .scans = NO,
                   .transactional = YES,
                   .line = 2}},
        .links = true,
    },
    {
        .name = "RENAME COLUMN and RENAME TABLE with -- convoy:contract: one brief step each",
        .sql = "ALTER TABLE users RENAME COLUMN name TO full_name;\n"
               "ALTER TABLE users RENAME TO people;\n"
               "-- convoy:contract\n",
        .live = &live_users,
        .n_steps = 2,
        .steps = {{.kind = STEP_PASSTHROUGH,
                   .sql = "ALTER TABLE users RENAME COLUMN name TO full_name",
                   .table = "public.users",
                   .lock = AE,
                   .rewrites = NO,
                   .scans = NO,
                   .transactional = YES,
                   .line = 1},
                  {.kind = STEP_PASSTHROUGH,
                   .sql = "ALTER TABLE users RENAME TO people",
                   .table = "public.users",
                   .lock = AE,
                   .rewrites = NO,
                   .scans = NO,
                   .transactional = YES,
                   .line = 2}},
    },
    {
        .name = "DROP COLUMN of two columns in one statement with contract: each dropped once",
        .sql = "-- convoy:contract\nALTER TABLE users DROP COLUMN nickname, DROP COLUMN age;\n",
        .n_steps = 2,
        .steps = {{.kind = STEP_PASSTHROUGH,
                   .sql = "DROP nickname",
                   .not_sql = {"age"},
                   .table = "users",
                   .lock = AE},
                  {.kind = STEP_PASSTHROUGH,
                   .sql = "DROP age",
                   .not_sql = {"nickname"},
                   .table = "users",
                   .lock = AE}},
    },
    {
        .name = "ADD COLUMN and DROP COLUMN in one statement with contract: each run once",
        .sql =
            "-- convoy:contract\nALTER TABLE users ADD COLUMN handle text, DROP COLUMN nickname;\n",
        .n_steps = 2,
        .steps = {ADD_NULLABLE("ALTER TABLE users ADD COLUMN handle text", "users"),
                  {.kind = STEP_PASSTHROUGH,
                   .sql = "DROP nickname",
                   .not_sql = {"ADD COLUMN"},
                   .table = "users",
                   .lock = AE}},
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
        .name = "whole-table UPDATE offline: a checkpointed batched pass",
        .sql = "UPDATE users SET plan = 'free';",
        .n_steps = 1,
        .steps = {{.kind = STEP_BACKFILL, .sql = "UPDATE users SET plan = 'free'"}},
    },
    {
        .name = "UPDATE with a WHERE: batched, the WHERE kept as the guard",
        .sql = "UPDATE users SET plan = 'free' WHERE plan IS NULL;",
        .n_steps = 1,
        .steps = {{.kind = STEP_BACKFILL}},
    },
    {
        .name = "UPDATE ... FROM on a large table: refused, naming the form convoy batches",
        .sql = "UPDATE users SET plan = o.status FROM orders o WHERE o.user_id = users.id;",
        .n_refusals = 1,
        .note = "cannot be split into batches",
        .fix = "SET column = expression",
    },
    {
        .name = "TRUNCATE: refused",
        .sql = "TRUNCATE users;",
        .n_refusals = 1,
        .note = "TRUNCATE",
    },
    {
        .name = "VACUUM FULL: refused (ACCESS EXCLUSIVE while it rewrites), pg_repack instead",
        .sql = "VACUUM FULL users;",
        .n_refusals = 1,
        .note = "ACCESS EXCLUSIVE",
        .fix = "pg_repack",
    },
    {
        .name = "VACUUM (FULL, ANALYZE): refused like VACUUM FULL",
        .sql = "VACUUM (FULL, ANALYZE) users;",
        .n_refusals = 1,
        .note = "ACCESS EXCLUSIVE",
        .fix = "pg_repack",
    },
    {
        .name = "CLUSTER: refused",
        .sql = "CLUSTER users USING users_pkey;",
        .n_refusals = 1,
        .note = "strong lock",
    },
    {
        .name = "REINDEX without CONCURRENTLY: refused, naming the form convoy runs",
        .sql = "REINDEX TABLE users;",
        .n_refusals = 1,
        .note = "REINDEX without CONCURRENTLY blocks writes",
        .fix = "write REINDEX ... CONCURRENTLY",
    },
    {
        .name = "REINDEX INDEX without CONCURRENTLY: refused",
        .sql = "REINDEX INDEX users_email_key;",
        .n_refusals = 1,
        .fix = "write REINDEX ... CONCURRENTLY",
    },
    {
        .name = "LOCK TABLE: refused",
        .sql = "LOCK TABLE users IN ACCESS EXCLUSIVE MODE;",
        .n_refusals = 1,
        .note = "strong lock",
    },
    {
        .name = "whole-table DELETE offline: batched by primary key",
        .sql = "DELETE FROM users;",
        .n_steps = 1,
        .steps = {{.kind = STEP_BACKFILL, .sql = "DELETE FROM users"}},
    },
    {
        .name = "DROP CONSTRAINT offline: allowed, assumed to be a CHECK or FOREIGN KEY",
        .sql = "ALTER TABLE orders DROP CONSTRAINT orders_user_fk;",
        .n_steps = 1,
        .steps = {{DDL_F("ALTER TABLE orders DROP CONSTRAINT orders_user_fk", "orders"),
                   .summary = "drop constraint orders_user_fk"}},
        .assumption = "constraint orders_user_fk is assumed to be a CHECK or FOREIGN KEY",
        .links = true,
    },
    {
        .name = "REFRESH MATERIALIZED VIEW: refused, naming CONCURRENTLY",
        .sql = "REFRESH MATERIALIZED VIEW user_stats;",
        .n_refusals = 1,
        .note = "ACCESS EXCLUSIVE on the view",
        .fix = "REFRESH MATERIALIZED VIEW CONCURRENTLY",
    },
    {
        .name = "REFRESH MATERIALIZED VIEW CONCURRENTLY: runs, readers continue",
        .sql = "REFRESH MATERIALIZED VIEW CONCURRENTLY user_stats;",
        .n_steps = 1,
        .steps = {{.kind = STEP_PASSTHROUGH, .sql = "CONCURRENTLY user_stats"}},
    },
    {
        .name = "CREATE STATISTICS: SHARE UPDATE EXCLUSIVE",
        .sql = "CREATE STATISTICS users_stats (dependencies) ON name, email FROM users;",
        .n_steps = 1,
        .steps = {{.kind = STEP_PASSTHROUGH, .table = "users", .lock = SUE}},
    },
    {
        .name = "SET (fillfactor): SHARE UPDATE EXCLUSIVE, no rewrite",
        .sql = "ALTER TABLE users SET (fillfactor = 90);",
        .n_steps = 1,
        .steps = {{.kind = STEP_PASSTHROUGH, .table = "users", .lock = SUE}},
    },
    {
        .name = "DETACH PARTITION CONCURRENTLY: outside a transaction",
        .sql = "ALTER TABLE events DETACH PARTITION events_2023 CONCURRENTLY;",
        .n_steps = 1,
        .steps = {{.kind = STEP_PASSTHROUGH, .table = "events", .transactional = NO}},
    },
    {
        .name = "unnamed index with INCLUDE: the INCLUDE columns are in the name",
        .sql = "CREATE INDEX ON users (email) INCLUDE (name);",
        .n_steps = 1,
        .steps = {{.kind = STEP_INDEX, .sql = "users_email_name_idx"}},
    },
    {
        .name = "DROP TABLE IF EXISTS without contract: refused offline (it may exist)",
        .sql = "DROP TABLE IF EXISTS old_stuff;",
        .n_refusals = 1,
        .note = "DROP TABLE",
        .fix = "convoy:contract",
    },
    {
        .name = "an ALTER TABLE form convoy does not know: refused",
        .sql = "ALTER TABLE users SET TABLESPACE fast_ssd;",
        .n_refusals = 1,
        .note = "does not yet know",
    },
    {
        .name = "any other statement: refused, convoy does not guess",
        .sql = "CREATE RULE users_no_insert AS ON INSERT TO users DO INSTEAD NOTHING;",
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

    /* ---- statements with a brief or weak lock: run as written, under lock_timeout */
    {
        .name = "ALTER COLUMN SET STATISTICS: brief SHARE UPDATE EXCLUSIVE",
        .sql = "ALTER TABLE users ALTER COLUMN name SET STATISTICS 500;",
        .n_steps = 1,
        .steps = {BRIEF("ALTER TABLE users ALTER COLUMN name SET STATISTICS 500", "users", SUE)},
        .links = true,
    },
    {
        .name = "ALTER COLUMN SET (...) and RESET (...) attribute options: SHARE UPDATE EXCLUSIVE",
        .sql = "ALTER TABLE users ALTER COLUMN email SET (n_distinct = -1);\n"
               "ALTER TABLE users ALTER COLUMN email RESET (n_distinct);\n",
        .live = &live_users,
        .n_steps = 2,
        .steps =
            {BRIEF(
                 "ALTER TABLE users ALTER COLUMN email SET (n_distinct = -1)", "public.users", SUE),
             BRIEF("ALTER TABLE users ALTER COLUMN email RESET (n_distinct)", "public.users", SUE)},
    },
    {
        .name = "ENABLE and DISABLE TRIGGER: brief SHARE ROW EXCLUSIVE",
        .sql = "ALTER TABLE users DISABLE TRIGGER users_audit;\n"
               "ALTER TABLE users ENABLE TRIGGER users_audit;\n",
        .n_steps = 2,
        .steps = {BRIEF("ALTER TABLE users DISABLE TRIGGER users_audit", "users", SRE),
                  BRIEF("ALTER TABLE users ENABLE TRIGGER users_audit", "users", SRE)},
    },
    {
        .name = "CREATE TRIGGER on an existing table: brief SHARE ROW EXCLUSIVE on it",
        .sql = "CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION "
               "touch_updated_at();",
        .live = &live_users,
        .n_steps = 1,
        .steps = {BRIEF("CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE "
                        "FUNCTION touch_updated_at()",
                        "public.users",
                        SRE)},
        .links = true,
    },
    {
        .name = "CREATE TRIGGER on a table created in the file: as written, nothing to wait for",
        .sql = "CREATE TABLE audit_events (id bigint PRIMARY KEY, at timestamptz);\n"
               "CREATE TRIGGER audit_touch BEFORE UPDATE ON audit_events FOR EACH ROW EXECUTE "
               "FUNCTION touch_updated_at();\n",
        .n_steps = 2,
        .steps = {PASS("CREATE TABLE audit_events"),
                  PASS("CREATE TRIGGER audit_touch BEFORE UPDATE ON audit_events")},
    },
    {
        .name = "ALTER TYPE ... ADD VALUE: catalog only, no table lock",
        .sql = "ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh' AFTER 'happy';",
        .n_steps = 1,
        .steps = {CATALOG_ONLY("ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh' AFTER 'happy'")},
        .links = true,
    },
    {
        .name = "ALTER INDEX ... RENAME: catalog only, no table lock, no expand/contract advice",
        .sql = "ALTER INDEX users_email_key RENAME TO users_email_uniq;",
        .n_steps = 1,
        .steps = {CATALOG_ONLY("ALTER INDEX users_email_key RENAME TO users_email_uniq")},
    },
    {
        .name = "RENAME CONSTRAINT: brief ACCESS EXCLUSIVE, no contract needed",
        .sql = "ALTER TABLE users RENAME CONSTRAINT age_positive TO users_age_positive;",
        .n_steps = 1,
        .steps = {BRIEF(
            "ALTER TABLE users RENAME CONSTRAINT age_positive TO users_age_positive", "users", AE)},
    },
    {
        .name = "ANALYZE: SHARE UPDATE EXCLUSIVE, scans, in a transaction",
        .sql = "ANALYZE users;",
        .live = &live_users,
        .n_steps = 1,
        .steps = {{.kind = STEP_PASSTHROUGH,
                   .sql = "ANALYZE users",
                   .table = "public.users",
                   .lock = SUE,
                   .n_locks = NLOCKS(1),
                   .rewrites = NO,
                   .scans = YES,
                   .transactional = YES}},
        .links = true,
    },
    {
        .name = "plain VACUUM: SHARE UPDATE EXCLUSIVE, scans, outside a transaction",
        .sql = "VACUUM (ANALYZE) users;",
        .n_steps = 1,
        .steps = {{.kind = STEP_PASSTHROUGH,
                   .sql = "VACUUM (ANALYZE) users",
                   .table = "users",
                   .lock = SUE,
                   .n_locks = NLOCKS(1),
                   .rewrites = NO,
                   .scans = YES,
                   .transactional = NO}},
    },
    {
        .name = "REINDEX TABLE CONCURRENTLY: SHARE UPDATE EXCLUSIVE, scans, outside a transaction",
        .sql = "REINDEX TABLE CONCURRENTLY users;",
        .n_steps = 1,
        .steps = {{.kind = STEP_PASSTHROUGH,
                   .sql = "REINDEX TABLE CONCURRENTLY users",
                   .table = "users",
                   .lock = SUE,
                   .rewrites = NO,
                   .scans = YES,
                   .transactional = NO}},
    },
    {
        .name = "REINDEX INDEX CONCURRENTLY: SHARE UPDATE EXCLUSIVE, scans, outside a transaction",
        .sql = "REINDEX INDEX CONCURRENTLY users_email_key;",
        .n_steps = 1,
        .steps = {{.kind = STEP_PASSTHROUGH,
                   .sql = "REINDEX INDEX CONCURRENTLY users_email_key",
                   .lock = SUE,
                   .rewrites = NO,
                   .scans = YES,
                   .transactional = NO}},
    },
    {
        .name = "DROP INDEX of two indexes: one DROP INDEX CONCURRENTLY each, in order",
        .sql = "DROP INDEX users_name_idx, users_age_idx;",
        .n_steps = 2,
        .steps = {{.kind = STEP_DROP_INDEX,
                   .sql = "DROP INDEX CONCURRENTLY users_name_idx",
                   .not_sql = {"users_age_idx"},
                   .rewrites = NO,
                   .scans = NO,
                   .transactional = NO},
                  {.kind = STEP_DROP_INDEX,
                   .sql = "DROP INDEX CONCURRENTLY users_age_idx",
                   .not_sql = {"users_name_idx"},
                   .rewrites = NO,
                   .scans = NO,
                   .transactional = NO}},
    },

    /* ---- DROP CONSTRAINT: relaxing a rule is brief; dropping a key is a contract change */
    {
        .name = "hand-written NOT NULL: CHECK NOT VALID, VALIDATE, SET NOT NULL, DROP CONSTRAINT "
                "in file order",
        .sql = "ALTER TABLE users ADD CONSTRAINT users_age_not_null CHECK (age IS NOT NULL) NOT "
               "VALID;\n"
               "ALTER TABLE users VALIDATE CONSTRAINT users_age_not_null;\n"
               "ALTER TABLE users ALTER COLUMN age SET NOT NULL;\n"
               "ALTER TABLE users DROP CONSTRAINT users_age_not_null;\n",
        .live = &live_users,
        /*
         * SET NOT NULL still gets convoy's own check dance (a second scan): not needed after
         * the file's validated check, but safe, and the schema ends as psql leaves it.
         */
        .n_steps = 8,
        .steps = {{DDL_F("ALTER TABLE public.users ADD CONSTRAINT users_age_not_null CHECK (age IS "
                         "NOT NULL) NOT VALID",
                         "public.users"),
                   .line = 1},
                  {VALIDATE_F("VALIDATE CONSTRAINT users_age_not_null", "public.users"), .line = 2},
                  NOT_NULL_DANCE("public.users", "convoy_users_age_not_null", "age", 3),
                  {DDL_F("ALTER TABLE users DROP CONSTRAINT users_age_not_null", "public.users"),
                   .line = 4, .summary = "drop constraint users_age_not_null"}},
        .links = true,
    },
    {
        .name = "live DROP CONSTRAINT of a CHECK: one brief ACCESS EXCLUSIVE step",
        .sql = "ALTER TABLE users DROP CONSTRAINT age_positive;",
        .live = &live_constraints,
        .n_steps = 1,
        .steps = {DDL("ALTER TABLE users DROP CONSTRAINT age_positive", "public.users")},
        .links = true,
    },
    {
        .name = "DROP CONSTRAINT of two constraints in one statement: each dropped once",
        .sql = "ALTER TABLE users DROP CONSTRAINT age_positive, DROP CONSTRAINT users_age_check;",
        .n_steps = 2,
        .steps = {{DDL_F("DROP CONSTRAINT age_positive", "users"), .not_sql = {"users_age_check"}},
                  {DDL_F("DROP CONSTRAINT users_age_check", "users"), .not_sql = {"age_positive"}}},
    },
    {
        .name = "live DROP CONSTRAINT of a FOREIGN KEY: one brief step",
        .sql = "ALTER TABLE orders DROP CONSTRAINT orders_user_fk;",
        .live = &live_constraints,
        .n_steps = 1,
        .steps = {DDL("ALTER TABLE orders DROP CONSTRAINT orders_user_fk", "public.orders")},
    },
    {
        .name = "live DROP CONSTRAINT of a UNIQUE constraint: refused without contract",
        .sql = "ALTER TABLE users DROP CONSTRAINT users_email_key;",
        .live = &live_constraints,
        .n_refusals = 1,
        .note = "dropping UNIQUE constraint \"users_email_key\" can break the running application",
        .fix = "`-- convoy:contract`",
    },
    {
        .name = "live DROP CONSTRAINT of the PRIMARY KEY: refused without contract",
        .sql = "ALTER TABLE users DROP CONSTRAINT users_pkey;",
        .live = &live_constraints,
        .n_refusals = 1,
        .note = "dropping PRIMARY KEY constraint \"users_pkey\"",
        .fix = "`-- convoy:contract`",
    },
    {
        .name = "live DROP CONSTRAINT of a UNIQUE constraint with -- convoy:contract: one step",
        .sql = "-- convoy:contract\nALTER TABLE users DROP CONSTRAINT users_email_key;\n",
        .live = &live_constraints,
        .n_steps = 1,
        .steps = {{DDL_F("ALTER TABLE users DROP CONSTRAINT users_email_key", "public.users"),
                   .line = 2}},
    },
    {
        .name = "live DROP CONSTRAINT of a UNIQUE constraint this file adds: allowed",
        .sql = "ALTER TABLE users ADD CONSTRAINT users_name_key UNIQUE (name);\n"
               "ALTER TABLE users DROP CONSTRAINT users_name_key;\n",
        .live = &live_constraints,
        .n_steps = 3,
        .steps = {INDEX("CREATE UNIQUE INDEX CONCURRENTLY users_name_key ON public.users (name)",
                        "public.users"),
                  DDL("ADD CONSTRAINT users_name_key UNIQUE USING INDEX users_name_key",
                      "public.users"),
                  {DDL_F("ALTER TABLE users DROP CONSTRAINT users_name_key", "public.users"),
                   .line = 2}},
    },
    {
        .name = "live DROP CONSTRAINT of a missing constraint: error",
        .sql = "ALTER TABLE users DROP CONSTRAINT users_nick_check;",
        .live = &live_constraints,
        .n_errors = 1,
        .note = "constraint \"users_nick_check\" of relation public.users does not exist",
        .note_line = 1,
        .fix = "IF EXISTS",
    },
    {
        .name = "live DROP CONSTRAINT IF EXISTS of a missing constraint: skipped with a warning",
        .sql = "ALTER TABLE users DROP CONSTRAINT IF EXISTS users_nick_check;",
        .live = &live_constraints,
        .n_warnings = 2,
        .note = "constraint \"users_nick_check\" of public.users does not exist: skipped (IF "
                "EXISTS)",
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
        .name = "BEGIN/COMMIT: each step is its own transaction, no warning",
        .sql = "BEGIN;\nALTER TABLE users ADD COLUMN bio text;\nCOMMIT;\n",
        .n_steps = 1,
        .steps = {ADD_NULLABLE("ADD COLUMN bio text", "users")},
        .n_warnings = 0,
    },

    /* ---- SET: lock_timeout and statement_timeout are honoured like the directives */
    {
        .name = "SET statement_timeout is honoured like the directive, silently",
        .sql = "SET statement_timeout = '5s';\nALTER TABLE users ADD COLUMN bio text;\n",
        .n_steps = 1,
        .steps = {ADD_NULLABLE("ADD COLUMN bio text", "users")},
        .statement_timeout_ms = 5000,
        .lock_timeout_ms = PLAN_DEFAULT_LOCK_TIMEOUT_MS,
    },
    {
        .name = "SET lock_timeout = '3s' is honoured like the directive, silently",
        .sql = "SET lock_timeout = '3s';\nALTER TABLE users ADD COLUMN bio text;\n",
        .n_steps = 1,
        .steps = {ADD_NULLABLE("ADD COLUMN bio text", "users")},
        .lock_timeout_ms = 3000,
        .statement_timeout_ms = PLAN_DEFAULT_STATEMENT_TIMEOUT_MS,
    },
    {
        .name = "SET lock_timeout TO a bare number: milliseconds, as in PostgreSQL",
        .sql = "SET lock_timeout TO 750;\nALTER TABLE users ADD COLUMN bio text;\n",
        .n_steps = 1,
        .steps = {ADD_NULLABLE("ADD COLUMN bio text", "users")},
        .lock_timeout_ms = 750,
    },
    {
        .name = "SET lock_timeout above convoy's bound: clamped to 10 s with a warning",
        .sql = "SET lock_timeout = '30s';\nALTER TABLE users ADD COLUMN bio text;\n",
        .n_steps = 1,
        .steps = {ADD_NULLABLE("ADD COLUMN bio text", "users")},
        .n_warnings = 1,
        .note = "lock_timeout = 30s is outside convoy's bounds for a step (1 ms .. 10000 ms): "
                "using 10000 ms per attempt",
        .note_line = 1,
        .lock_timeout_ms = 10000,
    },
    {
        .name = "SET lock_timeout = 0 (wait forever): clamped to 10 s with a warning",
        .sql = "SET lock_timeout = 0;\nALTER TABLE users ADD COLUMN bio text;\n",
        .n_steps = 1,
        .steps = {ADD_NULLABLE("ADD COLUMN bio text", "users")},
        .n_warnings = 1,
        .note = "using 10000 ms per attempt",
        .lock_timeout_ms = 10000,
    },
    {
        .name = "SET statement_timeout below convoy's bound: clamped to 100 ms with a warning",
        .sql = "SET statement_timeout = '10ms';\nALTER TABLE users ADD COLUMN bio text;\n",
        .n_steps = 1,
        .steps = {ADD_NULLABLE("ADD COLUMN bio text", "users")},
        .n_warnings = 1,
        .note = "statement_timeout = 10ms is outside convoy's bounds for a step (100 ms .. "
                "3600000 ms): using 100 ms per attempt",
        .statement_timeout_ms = 100,
    },
    {
        .name = "SET statement_timeout = 0 (pg_dump's header): clamped to 1 h with a warning",
        .sql = "SET statement_timeout = 0;\nALTER TABLE users ADD COLUMN bio text;\n",
        .n_steps = 1,
        .steps = {ADD_NULLABLE("ADD COLUMN bio text", "users")},
        .n_warnings = 1,
        .note = "using 3600000 ms per attempt",
        .statement_timeout_ms = 3600000,
    },
    {
        .name = "SET lock_timeout and the directive: the directive wins, naming its line",
        .sql = "SET lock_timeout = '3s';\n"
               "-- convoy:lock-timeout 200ms\n"
               "ALTER TABLE users ADD COLUMN bio text;\n",
        .n_steps = 1,
        .steps = {ADD_NULLABLE("ADD COLUMN bio text", "users")},
        .n_warnings = 1,
        .note = "lock_timeout: the -- convoy:lock-timeout directive on line 2 wins over this SET",
        .note_line = 1,
        .lock_timeout_ms = 200,
    },
    {
        .name = "SET statement_timeout and the directive: the directive wins, even out of bounds",
        .sql = "-- convoy:statement-timeout 1m\n"
               "SET statement_timeout = 0;\n"
               "ALTER TABLE users ADD COLUMN bio text;\n",
        .n_steps = 1,
        .steps = {ADD_NULLABLE("ADD COLUMN bio text", "users")},
        .n_warnings = 1,
        .note = "the -- convoy:statement-timeout directive on line 1 wins over this SET",
        .note_line = 2,
        .statement_timeout_ms = 60000,
    },
    {
        .name = "SET of another setting: ignored with a warning naming it",
        .sql = "SET client_min_messages = warning;\nALTER TABLE users ADD COLUMN bio text;\n",
        .n_steps = 1,
        .steps = {ADD_NULLABLE("ADD COLUMN bio text", "users")},
        .n_warnings = 1,
        .note = "SET client_min_messages is ignored: it would only last for psql's session",
        .note_line = 1,
        .lock_timeout_ms = PLAN_DEFAULT_LOCK_TIMEOUT_MS,
    },
    {
        .name = "SET lock_timeout TO DEFAULT: ignored with a warning, the default stays",
        .sql = "SET lock_timeout TO DEFAULT;\nALTER TABLE users ADD COLUMN bio text;\n",
        .n_steps = 1,
        .steps = {ADD_NULLABLE("ADD COLUMN bio text", "users")},
        .n_warnings = 1,
        .note = "SET lock_timeout is ignored",
        .lock_timeout_ms = PLAN_DEFAULT_LOCK_TIMEOUT_MS,
    },
    {
        .name = "only transaction control: nothing to do",
        .sql = "BEGIN;\nCOMMIT;\n",
        .n_warnings = 1,
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
        .n_steps = 5,
        .steps = {{DDL_F("ALTER TABLE users ADD COLUMN last_seen_at timestamp(6) DEFAULT "
                         "current_timestamp NOT NULL",
                         "users"),
                   .line = 2},
                  {INDEX_F("CREATE INDEX CONCURRENTLY index_users_on_last_seen_at ON users",
                           "users"),
                   .line = 3},
                  ORPHAN(NULL, "orders", "users"),
                  FK_ADD("ADD CONSTRAINT fk_rails_f868b47f6a FOREIGN KEY (user_id) REFERENCES "
                         "users (id) NOT VALID",
                         "orders",
                         "users",
                         "fk_rails_f868b47f6a",
                         5),
                  FK_VALIDATE("VALIDATE CONSTRAINT fk_rails_f868b47f6a", "orders", "users", 4)},
        /* the stable DEFAULT, and the foreign key Rails did not index (psql adds none) */
        .n_warnings = 2,
        .fix = "`CREATE INDEX CONCURRENTLY orders_user_id_idx ON orders (user_id);`",
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
                  ORPHAN(NULL, "library_book", "library_author"),
                  FK_DDL("FOREIGN KEY (author_id) REFERENCES library_author (id) DEFERRABLE "
                         "INITIALLY DEFERRED NOT VALID",
                         "library_book",
                         "library_author"),
                  FK_VALIDATE(NULL, "library_book", "library_author", 3),
                  /* Django's own index: no FK warning, no index of convoy's */
                  INDEX("CREATE INDEX CONCURRENTLY library_book_author_id_8a3f2c1e ON "
                        "library_book",
                        "library_book"),
                  DDL("ALTER TABLE library_book ADD COLUMN published boolean DEFAULT false NOT "
                      "NULL",
                      "library_book"),
                  DDL("ALTER TABLE library_book ALTER COLUMN published DROP DEFAULT",
                      "library_book")},
        .n_warnings = 0, /* BEGIN, SET CONSTRAINTS and COMMIT need no warning */
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
        .n_steps = 8,
        .steps = {ADD_NULLABLE("ALTER TABLE \"user\" ADD COLUMN \"group\" uuid", "\"user\""),
                  DDL("ALTER TABLE \"user\" ALTER COLUMN \"group\" SET DEFAULT", "\"user\""),
                  FILL("UPDATE \"user\" SET \"group\" = gen_random_uuid() WHERE (id) > ($1) "
                       "AND (id) <= ($2) AND \"group\" IS NULL",
                       "\"user\""),
                  NOT_NULL_DANCE("\"user\"", "convoy_user_group_not_null", "\"group\"", 4)},
        .n_warnings = 0, /* the volatile default is explained in a summary */
        .links = true,
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
        .name = "SET NOT NULL on an existing column: pre-check, then the four-step check dance",
        .sql = "ALTER TABLE users ALTER COLUMN age SET NOT NULL;",
        .n_steps = 5,
        .steps = {NOT_NULL_DANCE("users", "convoy_users_age_not_null", "age", 1)},
        .links = true,
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
        .n_steps = 8,
        .steps = {ADD_NULLABLE("ALTER TABLE \"users; DROP TABLE x\" ADD COLUMN \"v; DROP TABLE "
                               "y\" uuid",
                               "\"users; DROP TABLE x\""),
                  DDL(NULL, NULL),
                  BACKFILL(NULL, NULL),
                  {PRECHECK_F(NULL, NULL)},
                  DDL(NULL, NULL),
                  VALIDATE(NULL, NULL),
                  DDL(NULL, NULL),
                  DDL(NULL, NULL)},
        .n_warnings = 0, /* the volatile default is explained in a summary */
        .quoted = {"users; DROP TABLE x", "v; DROP TABLE y"},
    },
    {
        .name = "hostile identifiers in a backfill trigger stay quoted",
        .sql = "-- convoy:backfill \"v; DROP TABLE y\" = \"w'; DROP TABLE z\"\n"
               "ALTER TABLE users ADD COLUMN \"v; DROP TABLE y\" text;\n",
        .n_steps = 5,
        .steps = {ADD_NULLABLE(NULL, "users"),
                  FILL(NULL, "users"),
                  {.kind = STEP_DDL, .sql = "CREATE TRIGGER", .table = "users", .lock = SRE},
                  CATCHUP(NULL, "users", 3, 2),
                  DDL("DROP TRIGGER", "users")},
        .quoted = {"v; DROP TABLE y", "w'; DROP TABLE z"},
    },

    /* ---- pre-checks: what they count, what they sample, what a counted row means */
    {
        .name = "SET NOT NULL offline: the pre-check samples rows by ctid",
        .sql = "ALTER TABLE users ALTER COLUMN age SET NOT NULL;",
        .n_steps = 5,
        .steps = {NOT_NULL_PRECHECK("users",
                                    "age",
                                    "SELECT c.ctid::text FROM users c WHERE c.age IS NULL LIMIT 5"),
                  NOT_NULL_STEPS("users", "convoy_users_age_not_null", "age", 1)},
        .links = true,
    },
    {
        .name = "SET NOT NULL live: the pre-check samples rows by primary key",
        .sql = "ALTER TABLE users ALTER COLUMN age SET NOT NULL;",
        .live = &live_users,
        .n_steps = 5,
        .steps = {NOT_NULL_PRECHECK("public.users",
                                    "age",
                                    "SELECT concat_ws(', ', c.id::text) FROM public.users c WHERE "
                                    "c.age IS NULL LIMIT 5"),
                  NOT_NULL_STEPS("public.users", "convoy_users_age_not_null", "age", 1)},
        .links = true,
    },
    {
        .name = "SET NOT NULL live, composite primary key: the sample names every key column",
        .sql = "ALTER TABLE memberships ALTER COLUMN role SET NOT NULL;",
        .live = &live_memberships,
        .n_steps = 5,
        .steps = {NOT_NULL_PRECHECK("public.memberships",
                                    "role",
                                    "SELECT concat_ws(', ', c.org_id::text, c.user_id::text) FROM "
                                    "public.memberships c WHERE c.role IS NULL LIMIT 5"),
                  NOT_NULL_STEPS(
                      "public.memberships", "convoy_memberships_role_not_null", "role", 1)},
        .links = true,
    },
    {
        .name = "SET NOT NULL on a quoted column: the pre-check quotes it after the alias",
        .sql = "ALTER TABLE \"Users\" ALTER COLUMN \"lastLogin\" SET NOT NULL;",
        .n_steps = 5,
        .steps = {NOT_NULL_PRECHECK("\"Users\"",
                                    "\"lastLogin\"",
                                    "SELECT c.ctid::text FROM \"Users\" c WHERE c.\"lastLogin\" IS "
                                    "NULL LIMIT 5"),
                  NOT_NULL_STEPS(
                      "\"Users\"", "\"convoy_Users_lastLogin_not_null\"", "\"lastLogin\"", 1)},
        .links = true,
    },
    {
        .name = "CHECK live: the pre-check counts rows where the expression is false",
        .sql = "ALTER TABLE users ADD CONSTRAINT age_positive CHECK (age > 0);",
        .live = &live_users,
        .n_steps = 3,
        .steps = {{PRECHECK_F("SELECT count(*) FROM public.users c WHERE NOT (age > 0)",
                              "public.users"),
                   .count_sql = "SELECT count(*) FROM public.users c WHERE NOT (age > 0)",
                   .sample_sql = "SELECT concat_ws(', ', c.id::text) FROM public.users c WHERE "
                                 "NOT (age > 0) LIMIT 5",
                   .check_desc = "break CHECK (age > 0)"},
                  {DDL_F("ALTER TABLE public.users ADD CONSTRAINT age_positive CHECK (age > 0) NOT "
                         "VALID",
                         "public.users"),
                   .undo = "ALTER TABLE public.users DROP CONSTRAINT IF EXISTS age_positive",
                   .final_step = 3},
                  {VALIDATE_F("ALTER TABLE public.users VALIDATE CONSTRAINT age_positive",
                              "public.users"),
                   .requires = 2}},
        .links = true,
    },
    {
        .name = "FK live: orphan pre-check SQL, sample by key, and what an orphan is",
        .sql = "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) "
               "REFERENCES users (id);",
        .live = &live_orders_no_index,
        .n_steps = 3,
        .steps = {{PRECHECK_F("SELECT count(*) FROM public.orders c WHERE c.user_id IS NOT NULL "
                              "AND NOT EXISTS (SELECT 1 FROM public.users p WHERE p.id = "
                              "c.user_id)",
                              "public.orders"),
                   .table2 = "public.users", .lock2 = AS,
                   .count_sql = "SELECT count(*) FROM public.orders c WHERE c.user_id IS NOT NULL "
                                "AND NOT EXISTS (SELECT 1 FROM public.users p WHERE p.id = "
                                "c.user_id)",
                   .sample_sql = "SELECT concat_ws(', ', c.id::text) FROM public.orders c WHERE "
                                 "c.user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM public.users "
                                 "p WHERE p.id = c.user_id) LIMIT 5",
                   .check_desc = "reference a row of public.users that does not exist (orphans)"},
                  FK_ADD("ALTER TABLE public.orders ADD CONSTRAINT orders_user_fk FOREIGN KEY "
                         "(user_id) REFERENCES users (id) NOT VALID",
                         "public.orders",
                         "public.users",
                         "orders_user_fk",
                         3),
                  FK_VALIDATE("ALTER TABLE public.orders VALIDATE CONSTRAINT orders_user_fk",
                              "public.orders",
                              "public.users",
                              2)},
        .n_warnings = 1,
        .note = "no index leads with user_id",
        .links = true,
    },
    {
        .name = "hostile identifiers stay quoted in the FK pre-check and the undo",
        .sql = "ALTER TABLE \"o; DROP TABLE x\" ADD CONSTRAINT \"f; DROP TABLE w\" FOREIGN KEY "
               "(\"c; DROP TABLE v\") REFERENCES \"p; DROP TABLE y\" (id);",
        .n_steps = 3,
        .steps = {ORPHAN(NULL, "\"o; DROP TABLE x\"", "\"p; DROP TABLE y\""),
                  FK_ADD(
                      NULL, "\"o; DROP TABLE x\"", "\"p; DROP TABLE y\"", "\"f; DROP TABLE w\"", 3),
                  FK_VALIDATE(NULL, "\"o; DROP TABLE x\"", "\"p; DROP TABLE y\"", 2)},
        .n_warnings = 1,
        /* the suggested index quotes its name and column too */
        .fix = "`CREATE INDEX CONCURRENTLY \"o; DROP TABLE x_c; DROP TABLE v_idx\" ON \"o; DROP "
               "TABLE x\" (\"c; DROP TABLE v\");`",
        .links = true,
        .quoted = {"c; DROP TABLE v", "f; DROP TABLE w"},
    },
    {
        .name = "hostile identifiers stay quoted in the opt-in foreign key index",
        .sql = "-- convoy:index-foreign-keys\n"
               "ALTER TABLE \"o; DROP TABLE x\" ADD FOREIGN KEY (\"c; DROP TABLE v\") REFERENCES "
               "\"p; DROP TABLE y\" (id);\n",
        .n_steps = 4,
        .steps = {ORPHAN(NULL, "\"o; DROP TABLE x\"", "\"p; DROP TABLE y\""),
                  FK_DDL(NULL, "\"o; DROP TABLE x\"", "\"p; DROP TABLE y\""),
                  FK_VALIDATE(NULL, "\"o; DROP TABLE x\"", "\"p; DROP TABLE y\"", 2),
                  INDEX("CREATE INDEX CONCURRENTLY \"o; DROP TABLE x_c; DROP TABLE v_idx\" ON \"o; "
                        "DROP TABLE x\" (\"c; DROP TABLE v\")",
                        "\"o; DROP TABLE x\"")},
        .quoted = {"c; DROP TABLE v", "o; DROP TABLE x"},
    },
    {
        .name = "hostile identifiers stay quoted in the CHECK pre-check and the undo",
        .sql = "ALTER TABLE \"t; DROP TABLE x\" ADD CONSTRAINT \"k; DROP TABLE y\" CHECK (\"a; "
               "DROP TABLE z\" > 0);",
        .n_steps = 3,
        .steps = {{PRECHECK_F("WHERE NOT (\"a; DROP TABLE z\" > 0)", "\"t; DROP TABLE x\""),
                   .check_desc = "break CHECK (\"a; DROP TABLE z\" > 0)"},
                  {DDL_F(NULL, "\"t; DROP TABLE x\""),
                   .undo = "ALTER TABLE \"t; DROP TABLE x\" DROP CONSTRAINT IF EXISTS \"k; DROP "
                           "TABLE y\"",
                   .final_step = 3},
                  {VALIDATE_F(NULL, "\"t; DROP TABLE x\""), .requires = 2}},
        .links = true,
        .quoted = {"k; DROP TABLE y", "a; DROP TABLE z"},
    },

    /* ---- file order: statements as psql runs them; one statement's steps by phase */
    {
        .name = "CHECK, SET NOT NULL and FK in one file: file order, each statement's steps by "
                "phase, links follow, lines kept",
        .sql = "ALTER TABLE users ADD CONSTRAINT age_positive CHECK (age > 0);\n"
               "ALTER TABLE users ALTER COLUMN name SET NOT NULL;\n"
               "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) "
               "REFERENCES users (id);\n"
               "-- convoy:index-foreign-keys\n",
        .n_steps = 12,
        .steps =
            {{PRECHECK_F("WHERE NOT (age > 0)", "users"), .line = 1},
             {DDL_F("ADD CONSTRAINT age_positive CHECK (age > 0) NOT VALID", "users"), .line = 1,
              .undo = "ALTER TABLE users DROP CONSTRAINT IF EXISTS age_positive", .final_step = 3},
             {VALIDATE_F("VALIDATE CONSTRAINT age_positive", "users"), .line = 1, .requires = 2},
             {PRECHECK_F("SELECT count(*) FROM users c WHERE c.name IS NULL", "users"), .line = 2},
             {DDL_F("ADD CONSTRAINT convoy_users_name_not_null", "users"), .line = 2,
              .undo = "ALTER TABLE users DROP CONSTRAINT IF EXISTS convoy_users_name_not_null",
              .final_step = 8},
             {VALIDATE_F("VALIDATE CONSTRAINT convoy_users_name_not_null", "users"), .line = 2,
              .requires = 5},
             {DDL_F("ALTER COLUMN name SET NOT NULL", "users"), .line = 2, .requires = 5},
             {DDL_F("DROP CONSTRAINT convoy_users_name_not_null", "users"), .line = 2},
             {PRECHECK_F("SELECT count(*) FROM orders c WHERE c.user_id IS NOT NULL", "orders"),
              .table2 = "users", .lock2 = AS, .line = 3},
             {FK_DDL_F("ADD CONSTRAINT orders_user_fk", "orders", "users"), .line = 3,
              .undo = "ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_user_fk",
              .final_step = 11},
             {FK_VALIDATE_F("VALIDATE CONSTRAINT orders_user_fk", "orders", "users"), .line = 3,
              .requires = 10},
             {INDEX_F("CREATE INDEX CONCURRENTLY orders_user_id_idx ON orders (user_id)", "orders"),
              .line = 3}},
        .links = true,
    },
    {
        .name = "two backfills: each column's fill, trigger, second pass and cleanup before the "
                "next column; links follow",
        .sql = "-- convoy:backfill a = created_at\n"
               "-- convoy:backfill b = 'x'\n"
               "ALTER TABLE users ADD COLUMN a timestamptz;\n"
               "ALTER TABLE users ADD COLUMN b text;\n",
        .n_steps = 10,
        .steps = {{ADD_NULLABLE_F("ALTER TABLE users ADD COLUMN a timestamptz", "users"),
                   .line = 3},
                  {BACKFILL_F("UPDATE users SET a = created_at", "users"), .catchup = NO,
                   .table_sql = "users", .line = 3},
                  TRIGGER("CREATE TRIGGER convoy_users_a_sync",
                          "users",
                          "convoy_users_a_sync",
                          "users_a_backfill_sync",
                          5),
                  CATCHUP("UPDATE users SET a = created_at WHERE (id) > ($1) AND (id) <= ($2) AND "
                          "a IS DISTINCT FROM (created_at)",
                          "users",
                          3,
                          2),
                  UNTRIGGER("users", "convoy_users_a_sync", "users_a_backfill_sync"),
                  {ADD_NULLABLE_F("ALTER TABLE users ADD COLUMN b text", "users"), .line = 4},
                  {BACKFILL_F("UPDATE users SET b = 'x'", "users"), .catchup = NO,
                   .table_sql = "users", .line = 4},
                  TRIGGER("CREATE TRIGGER convoy_users_b_sync",
                          "users",
                          "convoy_users_b_sync",
                          "users_b_backfill_sync",
                          10),
                  REFILL("UPDATE users SET b = 'x' WHERE (id) > ($1) AND (id) <= ($2) AND b IS "
                         "NULL",
                         "users",
                         8,
                         7),
                  UNTRIGGER("users", "convoy_users_b_sync", "users_b_backfill_sync")},
        .links = true,
    },
    {
        .name = "file order: backfilled NOT NULL column, CREATE INDEX, second backfilled column",
        .sql = "-- convoy:backfill a = created_at\n"
               "-- convoy:backfill b = 'x'\n"
               "ALTER TABLE users ADD COLUMN a timestamptz NOT NULL;\n"
               "CREATE INDEX users_a_idx ON users (a);\n"
               "ALTER TABLE users ADD COLUMN b text;\n",
        .n_steps = 16,
        .steps =
            {{ADD_NULLABLE_F("ALTER TABLE users ADD COLUMN a timestamptz", "users"), .line = 3},
             {BACKFILL_F("UPDATE users SET a = created_at WHERE (id) > ($1) AND (id) <= ($2) "
                         "AND a IS NULL",
                         "users"),
              .catchup = NO, .line = 3},
             TRIGGER("CREATE TRIGGER convoy_users_a_sync",
                     "users",
                     "convoy_users_a_sync",
                     "users_a_backfill_sync",
                     8 /* NOT NULL without a DEFAULT: the trigger stays once it is set */),
             CATCHUP("a IS DISTINCT FROM (created_at)", "users", 3, 2),
             NOT_NULL_DANCE("users", "convoy_users_a_not_null", "a", 5),
             UNTRIGGER("users", "convoy_users_a_sync", "users_a_backfill_sync"),
             {INDEX_F("CREATE INDEX CONCURRENTLY users_a_idx ON users USING btree (a)", "users"),
              .line = 4},
             {ADD_NULLABLE_F("ALTER TABLE users ADD COLUMN b text", "users"), .line = 5},
             {BACKFILL_F("UPDATE users SET b = 'x'", "users"), .catchup = NO, .line = 5},
             TRIGGER("CREATE TRIGGER convoy_users_b_sync",
                     "users",
                     "convoy_users_b_sync",
                     "users_b_backfill_sync",
                     16),
             REFILL("b IS NULL", "users", 14, 13),
             UNTRIGGER("users", "convoy_users_b_sync", "users_b_backfill_sync")},
        .links = true,
    },
    {
        .name = "file order: ADD COLUMN then CREATE INDEX on it keep their order",
        .sql = "ALTER TABLE users ADD COLUMN bio text;\n"
               "CREATE INDEX users_bio_idx ON users (bio);\n",
        .n_steps = 2,
        .steps = {{ADD_NULLABLE_F("ALTER TABLE users ADD COLUMN bio text", "users"), .line = 1},
                  {INDEX_F("CREATE INDEX CONCURRENTLY users_bio_idx ON users", "users"),
                   .line = 2}},
        .links = true,
    },
    {
        .name = "live empty table, backfill directive reading columns: trigger, no passes",
        .sql = "-- convoy:backfill last_login = created_at\n"
               "ALTER TABLE users ADD COLUMN last_login timestamptz;\n",
        .live = &live_empty_users,
        .n_steps = 3,
        .steps = {{.kind = STEP_DDL,
                   .sql = "ALTER TABLE public.users ADD COLUMN last_login "
                          "timestamptz",
                   .line = 2},
                  TRIGGER("CREATE TRIGGER convoy_users_last_login_sync",
                          "public.users",
                          "convoy_users_last_login_sync",
                          "users_last_login_backfill_sync",
                          3),
                  UNTRIGGER("public.users",
                            "convoy_users_last_login_sync",
                            "users_last_login_backfill_sync")},
        .links = true,
    },
    {
        .name = "a step without anything to undo carries no links",
        .sql = "ALTER TABLE users ADD COLUMN bio text;\n"
               "ALTER TABLE users ALTER COLUMN age SET DEFAULT 18;\n"
               "CREATE INDEX users_bio_idx ON users (bio);\n"
               "DROP INDEX users_name_idx;\n"
               "COMMENT ON COLUMN users.bio IS 'about';\n",
        .n_steps = 5,
        .steps = {{.kind = STEP_DDL, .line = 1},
                  {.kind = STEP_DDL, .line = 2},
                  {INDEX_F("CREATE INDEX CONCURRENTLY users_bio_idx", "users"), .line = 3},
                  {.kind = STEP_DROP_INDEX, .line = 4},
                  {.kind = STEP_PASSTHROUGH, .line = 5}},
        .links = true,
    },

    {
        .name = "live: a backfill expression that fails on a sampled row is an error, no steps",
        .sql = "-- convoy:backfill age_years = 100 / age\n"
               "ALTER TABLE users ADD COLUMN age_years int;\n",
        .live = &(const live_spec_t){.tables = {USERS},
                                     .defaults = {{0, .fast = true, .immutable = true,
                                                   .backfill_error = "division by zero",
                                                   .backfill_key = "(id)=(42)"}},
                                     .n_defaults = 1},
        .n_errors = 1,
        .note = "fails on existing row (id)=(42) of public.users: division by zero",
        .note_line = 1,
        .fix = "NULLIF",
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
    size_t n_cols = 0, n_pk = 0, n_ix = 0, n_con = 0;

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

    while (n_con < 4 && ts->constraints[n_con])
        n_con++;
    t->constraints = xcalloc(n_con ? n_con : 1, sizeof(constraint_fact_t));
    for (size_t i = 0; i < n_con; i++) {
        const char *spec = ts->constraints[i];
        const char *colon = strchr(spec, ':');

        assert_non_null(colon);
        t->constraints[i].name = xstrndup(spec, (size_t)(colon - spec));
        t->constraints[i].type = colon[1];
        t->constraints[i].validated = true;
    }
    t->n_constraints = n_con;
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
        f->defaults[i].backfill_error = d->backfill_error ? xstrdup(d->backfill_error) : NULL;
        f->defaults[i].backfill_key = d->backfill_key ? xstrdup(d->backfill_key) : NULL;
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
check_link(sb_t *prob, size_t i, const char *what, int expect, int actual, bool strict)
{
    int want = expect == NONE ? 0 : expect;

    if ((expect != 0 || strict) && actual != want)
        sb_printf(prob, "  step %zu: %s is %d, expected %d\n", i + 1, what, actual, want);
}

static void
check_text(sb_t *prob, size_t i, const char *what, const char *expect, const char *actual)
{
    if (expect && (actual == NULL || strcmp(actual, expect) != 0))
        sb_printf(prob, "  step %zu: %s is \"%s\", expected \"%s\"\n", i + 1, what,
                  actual ? actual : "(null)", expect);
}

static void
check_step(sb_t *prob, size_t i, const step_t *s, const exp_step_t *e, bool links)
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
    if (e->n_locks && s->n_locks != e->n_locks - 1)
        sb_printf(prob, "  step %zu: %d locks, expected %d\n", i + 1, s->n_locks, e->n_locks - 1);
    if (e->summary && (s->summary == NULL || strstr(s->summary, e->summary) == NULL))
        sb_printf(prob, "  step %zu: summary lacks \"%s\"\n", i + 1, e->summary);
    check_flag(prob, i, "rewrites", e->rewrites, s->rewrites);
    check_flag(prob, i, "scans", e->scans, s->scans);
    check_flag(prob, i, "transactional", e->transactional, s->transactional);
    if (e->line && s->line != e->line)
        sb_printf(prob, "  step %zu: line %d, expected %d\n", i + 1, s->line, e->line);
    check_text(prob, i, "undo_sql", e->undo, s->undo_sql);
    if (links && e->undo == NULL && s->undo_sql)
        sb_printf(prob, "  step %zu: unexpected undo_sql \"%s\"\n", i + 1, s->undo_sql);
    check_link(prob, i, "final_step", e->final_step, s->final_step, links);
    check_link(prob, i, "requires", e->requires, s->requires, links);
    check_link(prob, i, "fill_step", e->fill_step, s->fill_step, links);
    check_flag(prob, i, "catchup", e->catchup, s->catchup);
    check_text(prob, i, "table_sql", e->table_sql, s->table_sql);
    check_text(prob, i, "count_sql", e->count_sql, s->count_sql);
    check_text(prob, i, "sample_sql", e->sample_sql, s->sample_sql);
    check_text(prob, i, "check_desc", e->check_desc, s->check_desc);
}

/*
 * Rules every plan keeps, whatever the case: links point the right way and at the right kind
 * of step, a pre-check directly precedes the ADD CONSTRAINT it guards, and every step knows
 * its source line and (for backfills and index builds) its table.
 */
static void
check_invariants(sb_t *prob, const plan_t *p)
{
    retry_policy_t def;
    int n = (int)p->n_steps;

    retry_policy_default(&def);
    if (p->retry.base_ms != def.base_ms || p->retry.cap_ms != def.cap_ms ||
        p->retry.max_attempts != def.max_attempts || p->retry.max_total_ms != def.max_total_ms)
        sb_printf(prob, "  plan.retry is not retry_policy_default()\n");
    if (p->lock_timeout_ms <= 0 || p->batch_target_ms <= 0 || p->statement_timeout_ms <= 0)
        sb_printf(prob, "  plan timeouts not set\n");
    for (int i = 0; i < n; i++) {
        const step_t *s = &p->steps[i];
        int no = i + 1;

        if (s->line < 1)
            sb_printf(prob, "  step %d: no source line\n", no);
        /* statements in file order; one statement's steps in phase order */
        if (i > 0 && s->line < p->steps[i - 1].line)
            sb_printf(prob, "  step %d: line %d after line %d (not in file order)\n", no, s->line,
                      p->steps[i - 1].line);
        if (i > 0 && s->stmt == p->steps[i - 1].stmt && s->phase < p->steps[i - 1].phase)
            sb_printf(prob, "  step %d: phase %d after phase %d of the same statement\n", no,
                      s->phase, p->steps[i - 1].phase);
        if (i > 0 && s->stmt < p->steps[i - 1].stmt)
            sb_printf(prob, "  step %d: statement %d after statement %d\n", no, s->stmt,
                      p->steps[i - 1].stmt);
        if (s->undo_sql && s->kind != STEP_DDL)
            sb_printf(prob, "  step %d: a %s step with undo_sql\n", no, step_kind_name(s->kind));
        if (s->final_step && (s->undo_sql == NULL || s->final_step <= no || s->final_step > n))
            sb_printf(prob, "  step %d: final_step %d (undo %s)\n", no, s->final_step,
                      s->undo_sql ? "set" : "missing");
        if (s->requires) {
            if (s->requires >= no || s->requires < 1)
                sb_printf(prob, "  step %d: requires step %d, not an earlier one\n", no,
                          s->requires);
            else if (p->steps[s->requires - 1].undo_sql == NULL)
                sb_printf(prob, "  step %d: requires step %d, which has nothing to undo\n", no,
                          s->requires);
        }
        if (s->fill_step) {
            if (s->kind != STEP_BACKFILL || s->fill_step >= no || s->fill_step < 1)
                sb_printf(prob, "  step %d: fill_step %d\n", no, s->fill_step);
            else if (p->steps[s->fill_step - 1].kind != STEP_BACKFILL ||
                     p->steps[s->fill_step - 1].catchup ||
                     p->steps[s->fill_step - 1].fill_step != 0)
                sb_printf(prob, "  step %d: fill_step %d is not a first pass\n", no, s->fill_step);
        }
        if (s->catchup && (s->kind != STEP_BACKFILL || s->fill_step == 0 || s->requires == 0))
            sb_printf(prob, "  step %d: catch-up without its first pass or trigger\n", no);
        if (s->kind == STEP_BACKFILL &&
            (s->table_sql == NULL || s->column_sql == NULL || s->expr_sql == NULL ||
             s->n_keys == 0 || s->key_cols == NULL || s->key_types == NULL))
            sb_printf(prob, "  step %d: backfill without table, column, expression or keys\n", no);
        if (s->kind == STEP_INDEX && s->table_sql == NULL)
            sb_printf(prob, "  step %d: index step without table_sql\n", no);
        if (s->kind == STEP_PRECHECK) {
            const char *from = s->sql ? strstr(s->sql, " FROM ") : NULL;
            const step_t *next = i + 1 < n ? &p->steps[i + 1] : NULL;
            if (s->count_sql == NULL || s->sql == NULL || strcmp(s->count_sql, s->sql) != 0 ||
                strncmp(s->count_sql, "SELECT count(*) FROM ", 21) != 0)
                sb_printf(prob, "  step %d: pre-check count_sql is not its sql\n", no);
            if (s->sample_sql == NULL || from == NULL || strstr(s->sample_sql, from) == NULL ||
                strcmp(s->sample_sql + strlen(s->sample_sql) - 8, " LIMIT 5") != 0)
                sb_printf(prob, "  step %d: pre-check sample_sql does not match its count\n", no);
            if (s->check_desc == NULL || s->undo_sql || s->n_locks < 1 ||
                s->locks[0].mode != LOCK_ACCESS_SHARE || !s->scans || s->rewrites)
                sb_printf(prob, "  step %d: pre-check shape (desc, undo, lock, scans)\n", no);
            if (next == NULL || next->kind != STEP_DDL || next->sql == NULL ||
                strstr(next->sql, " ADD CONSTRAINT ") == NULL || next->n_locks < 1 ||
                s->n_locks < 1 || strcmp(next->locks[0].table, s->locks[0].table) != 0 ||
                next->line != s->line)
                sb_printf(prob, "  step %d: pre-check not directly before its ADD CONSTRAINT\n",
                          no);
        } else if (s->count_sql || s->sample_sql || s->check_desc) {
            sb_printf(prob, "  step %d: pre-check fields on a %s step\n", no,
                      step_kind_name(s->kind));
        }
    }
}

/* Some note's message (or fix) contains `sub`, on `line` unless that is 0. */
static bool
notes_have(const plan_note_t *v, size_t n, const char *sub, bool in_fix, int line)
{
    for (size_t i = 0; i < n; i++) {
        const char *text = in_fix ? v[i].fix : v[i].message;
        if (text && strstr(text, sub) && (line == 0 || v[i].line == line))
            return true;
    }
    return false;
}

/*
 * True when every occurrence of `ident` in `sql` starts inside a double-quoted identifier.
 * Comments (`-- ...` to the end of the line) are skipped: an apostrophe in one, like the sync
 * trigger's "application's", opens no string. Dollar quotes stay transparent, so a function
 * body is checked like the statement around it.
 */
static bool
only_quoted(const char *sql, const char *ident)
{
    bool in_dq = false, in_sq = false;
    size_t n = strlen(ident);

    for (const char *p = sql; *p; p++) {
        if (strncmp(p, ident, n) == 0 && !in_dq)
            return false;
        if (!in_dq && !in_sq && p[0] == '-' && p[1] == '-') {
            while (p[1] && p[1] != '\n')
                p++;
            continue;
        }
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
        const char *texts[4] = {p->steps[i].sql, p->steps[i].count_sql, p->steps[i].sample_sql,
                                p->steps[i].undo_sql};
        for (size_t k = 0; k < 4; k++) {
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
        check_step(prob, i, &p->steps[i], &tc->steps[i], tc->links);
    check_invariants(prob, p);
    if (p->n_refusals != tc->n_refusals)
        sb_printf(prob, "  %zu refusals, expected %zu\n", p->n_refusals, tc->n_refusals);
    if (p->n_errors != tc->n_errors)
        sb_printf(prob, "  %zu errors, expected %zu\n", p->n_errors, tc->n_errors);
    if (p->n_warnings != tc->n_warnings)
        sb_printf(prob, "  %zu warnings, expected %zu\n", p->n_warnings, tc->n_warnings);
    if (tc->note && !notes_have(p->refusals, p->n_refusals, tc->note, false, tc->note_line) &&
        !notes_have(p->errors, p->n_errors, tc->note, false, tc->note_line) &&
        !notes_have(p->warnings, p->n_warnings, tc->note, false, tc->note_line))
        sb_printf(prob, "  no refusal, error or warning %s mentions \"%s\"\n",
                  tc->note_line ? "on the expected line" : "", tc->note);
    if (tc->fix && !notes_have(p->refusals, p->n_refusals, tc->fix, true, 0) &&
        !notes_have(p->errors, p->n_errors, tc->fix, true, 0) &&
        !notes_have(p->warnings, p->n_warnings, tc->fix, true, 0))
        sb_printf(prob, "  no fix mentions \"%s\"\n", tc->fix);
    for (size_t k = 0; k < 2; k++)
        if (tc->quoted[k])
            check_quoted(prob, p, tc->quoted[k]);
    if (tc->lock_timeout_ms && p->lock_timeout_ms != tc->lock_timeout_ms)
        sb_printf(prob, "  lock_timeout %lld ms, expected %lld ms\n", (long long)p->lock_timeout_ms,
                  (long long)tc->lock_timeout_ms);
    if (tc->statement_timeout_ms && p->statement_timeout_ms != tc->statement_timeout_ms)
        sb_printf(prob, "  statement_timeout %lld ms, expected %lld ms\n",
                  (long long)p->statement_timeout_ms, (long long)tc->statement_timeout_ms);
    if (tc->assumption) {
        bool found = false;
        for (size_t k = 0; k < p->n_assumptions && !found; k++)
            found = strstr(p->assumptions[k], tc->assumption) != NULL;
        if (!found)
            sb_printf(prob, "  no assumption mentions \"%s\"\n", tc->assumption);
    }
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
        /* not cmocka's print_error: its buffer cuts a long list of problems short */
        fprintf(stderr, "case \"%s\":\n%s--- plan:\n", tc->name, prob.data);
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

/* Plans `sql` against `live` (NULL: offline); the caller frees the plan. */
static void
plan_text(const char *sql, const live_spec_t *live, plan_t *plan)
{
    migration_t m;
    parse_error_t err;
    facts_t facts;

    if (!migration_parse("m.sql", sql, &m, &err))
        fail_msg("parse failed at %d:%d: %s", err.line, err.column, err.message);
    build_facts(live, &facts);
    plan_build(&m, &facts, plan);
    facts_free(&facts);
    migration_free(&m);
}

/* A backfill step carries what the engine pages by: table, column, expression, every key. */
static void
test_plan_backfill_fields(void **state)
{
    plan_t p;
    const step_t *fill, *cu;

    (void)state;
    plan_text("-- convoy:backfill since = coalesce(joined, now())\n"
              "ALTER TABLE memberships ADD COLUMN since timestamptz;\n",
              &(const live_spec_t){
                  .tables = {{.name = "memberships",
                              .rows = 20,
                              .cols = {"org_id bigint!", "user_id uuid!", "joined timestamptz"},
                              .pk = {"org_id", "user_id"}}}},
              &p);
    assert_int_equal(p.n_errors + p.n_refusals, 0);
    assert_int_equal(p.n_steps, 5);
    fill = &p.steps[1];
    cu = &p.steps[3];
    assert_int_equal(fill->kind, STEP_BACKFILL);
    assert_false(fill->catchup);
    assert_int_equal(fill->fill_step, 0);
    assert_int_equal(fill->requires, 0);
    assert_string_equal(fill->table_sql, "public.memberships");
    assert_string_equal(fill->column_sql, "since");
    assert_string_equal(fill->expr_sql, "COALESCE(joined, now())");
    assert_int_equal(fill->n_keys, 2);
    assert_string_equal(fill->key_cols[0], "org_id");
    assert_string_equal(fill->key_cols[1], "user_id");
    assert_string_equal(fill->key_types[0], "bigint");
    assert_string_equal(fill->key_types[1], "uuid");
    assert_non_null(strstr(fill->sql, "WHERE (org_id, user_id) > ($1) AND (org_id, user_id) <= "
                                      "($2) AND since IS NULL"));
    assert_int_equal(fill->line, 2);

    assert_int_equal(cu->kind, STEP_BACKFILL);
    assert_true(cu->catchup);
    assert_int_equal(cu->fill_step, 2);
    assert_int_equal(cu->requires, 3);
    assert_null(cu->undo_sql);
    assert_string_equal(cu->table_sql, "public.memberships");
    assert_string_equal(cu->column_sql, "since");
    assert_string_equal(cu->expr_sql, "COALESCE(joined, now())");
    assert_int_equal(cu->n_keys, 2);
    assert_string_equal(cu->key_cols[1], "user_id");
    assert_string_equal(cu->key_types[1], "uuid");
    assert_non_null(strstr(cu->sql, "since IS DISTINCT FROM (COALESCE(joined, now()))"));

    assert_int_equal(p.steps[2].final_step, 5);
    assert_non_null(p.steps[2].undo_sql);
    assert_string_equal(p.steps[2].undo_sql,
                        "DROP TRIGGER IF EXISTS convoy_memberships_since_sync ON "
                        "public.memberships;\nDROP FUNCTION IF EXISTS "
                        "convoy.memberships_since_backfill_sync()");
    /* the trigger never fails an application's write */
    assert_non_null(strstr(p.steps[2].sql, "EXCEPTION WHEN OTHERS THEN"));
    assert_string_equal(p.steps[4].sql, p.steps[2].undo_sql);
    plan_free(&p);
}

/* A key template without a backfill unlinks nothing: a warning names the purge that would. */
static void
test_cache_key_without_backfill(void **state)
{
    static const struct {
        const char *sql;
        size_t n_warnings;
        const char *fix; /* a substring of the only warning's fix */
    } cases[] = {
        {"-- convoy:cache key user:{id}\nALTER TABLE users ADD COLUMN plan text DEFAULT 'free';\n",
         1, "-- convoy:cache purge 'user:*'"},
        {"-- convoy:cache key org:{age}:user:{id}\n-- convoy:cache bump users:v\n"
         "ALTER TABLE users ADD COLUMN plan text DEFAULT 'free';\n",
         1, "purge 'org:*:user:*'"},
        {"-- convoy:cache key user:{id}\n-- convoy:backfill plan = name\n"
         "ALTER TABLE users ADD COLUMN plan text;\n",
         0, NULL},
        {"-- convoy:cache bump users:v\nALTER TABLE users ADD COLUMN plan text DEFAULT 'free';\n",
         0, NULL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        plan_t p;
        plan_text(cases[i].sql, &live_users, &p);
        assert_int_equal(p.n_errors + p.n_refusals, 0);
        assert_int_equal(p.n_warnings, cases[i].n_warnings);
        if (cases[i].fix) {
            assert_int_equal(p.warnings[0].line, 1);
            assert_non_null(strstr(p.warnings[0].message, "no key is unlinked"));
            assert_non_null(strstr(p.warnings[0].fix, cases[i].fix));
        }
        plan_free(&p);
    }
}

/* The plan carries its execution settings: directives, else the defaults, and the retry policy. */
static void
test_plan_settings(void **state)
{
    plan_t p;
    retry_policy_t def;

    (void)state;
    retry_policy_default(&def);
    plan_text("ALTER TABLE users ADD COLUMN bio text;", NULL, &p);
    assert_int_equal(p.lock_timeout_ms, PLAN_DEFAULT_LOCK_TIMEOUT_MS);
    assert_int_equal(p.batch_target_ms, PLAN_DEFAULT_BATCH_TARGET_MS);
    assert_int_equal(p.statement_timeout_ms, PLAN_DEFAULT_STATEMENT_TIMEOUT_MS);
    assert_int_equal(p.retry.base_ms, def.base_ms);
    assert_int_equal(p.retry.cap_ms, def.cap_ms);
    assert_int_equal(p.retry.max_attempts, def.max_attempts);
    assert_int_equal(p.retry.max_total_ms, def.max_total_ms);
    plan_free(&p);

    plan_text("-- convoy:lock-timeout 2s\n-- convoy:batch-target 500ms\n"
              "-- convoy:statement-timeout 1m\nALTER TABLE users ADD COLUMN bio text;\n",
              NULL, &p);
    assert_int_equal(p.lock_timeout_ms, 2000);
    assert_int_equal(p.batch_target_ms, 500);
    assert_int_equal(p.statement_timeout_ms, 60000);
    assert_int_equal(p.retry.max_attempts, def.max_attempts);
    assert_int_equal(p.steps[0].line, 4);
    plan_free(&p);
}

/* Two long columns that share their first 54 bytes still get different helper names. */
static void
test_helper_names_unique_when_cut(void **state)
{
    plan_t p;
    const char *seen[2] = {NULL, NULL};
    int n = 0;

    (void)state;
    plan_text("-- convoy:backfill aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa_one = 1\n"
              "-- convoy:backfill aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa_two = 2\n"
              "ALTER TABLE users ADD COLUMN "
              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa_one "
              "int NOT NULL;\n"
              "ALTER TABLE users ADD COLUMN "
              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa_two "
              "int NOT NULL;\n",
              NULL, &p);
    assert_int_equal(p.n_errors, 0);
    for (size_t i = 0; i < p.n_steps && n < 2; i++) {
        const char *t = strstr(p.steps[i].sql, "CREATE TRIGGER ");
        if (t)
            seen[n++] = t + strlen("CREATE TRIGGER ");
    }
    assert_int_equal(n, 2);
    assert_true(strncmp(seen[0], seen[1], 63) != 0);
    for (int k = 0; k < 2; k++) {
        const char *sp = strchr(seen[k], ' ');
        assert_true(sp != NULL && sp - seen[k] <= 63);
    }
    plan_free(&p);
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
    const struct CMUnitTest plan_misc[] = {
        cmocka_unit_test(test_plan_backfill_fields),
        cmocka_unit_test(test_plan_settings),
        cmocka_unit_test(test_cache_key_without_backfill),
        cmocka_unit_test(test_helper_names_unique_when_cut),
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
    failed += cmocka_run_group_tests_name("plan_misc", plan_misc, NULL, NULL);
    free(tests);
    free(ptests);
    return failed == 0 ? 0 : 1;
}
