/*
 * test_codec.c: the durable plan encoding. Every step kind survives plan_step_encode ->
 * JSON text -> plan_step_decode with every field intact, settings survive theirs, and a
 * malformed or foreign object is refused with a message and without leaking (CI runs this
 * under ASan with leak detection).
 */
#include "convoy/migration.h"
#include "convoy/plan.h"
#include "convoy/util.h"

#include <jansson.h>
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

/* ------------------------------------------------------------- builders */

static void
add_lock(step_t *s, const char *table, lock_mode_t mode)
{
    assert_true(s->n_locks < PLAN_MAX_LOCKS);
    s->locks[s->n_locks].table = xstrdup(table);
    s->locks[s->n_locks].mode = mode;
    s->n_locks++;
}

static void
set_keys(step_t *s, const char *const *cols, const char *const *types, size_t n)
{
    s->key_cols = xcalloc(n, sizeof(char *));
    s->key_types = xcalloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        s->key_cols[i] = xstrdup(cols[i]);
        s->key_types[i] = xstrdup(types[i]);
    }
    s->n_keys = n;
}

/* Fields every kind has, each set to a value no other field or default shares. */
static void
base_step(step_t *s, step_kind_t kind, int line)
{
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->sql =
        xasprintf("-- %s step sql \"quoted\" and 'single' \\ and\nnewline", step_kind_name(kind));
    s->summary = xasprintf("summary of the %s step: ünïcödé €", step_kind_name(kind));
    s->est_ms = 1234567890123LL + line;
    s->phase = 5 + line;
    s->line = line;
    s->uid = 99; /* planner-internal: not stored */
}

/* One step of every kind, each with every field that kind uses (and some it does not). */
static void
build_ddl(step_t *s)
{
    base_step(s, STEP_DDL, 3);
    add_lock(s, "public.orders", LOCK_SHARE_ROW_EXCLUSIVE);
    add_lock(s, "public.users", LOCK_SHARE_ROW_EXCLUSIVE);
    add_lock(s, "\"Odd; name\"", LOCK_ACCESS_EXCLUSIVE);
    s->transactional = true;
    s->undo_sql = xstrdup("ALTER TABLE public.orders DROP CONSTRAINT IF EXISTS orders_user_fk");
    s->final_step = 7;
}

static void
build_trigger(step_t *s)
{
    base_step(s, STEP_DDL, 4);
    add_lock(s, "public.users", LOCK_SHARE_ROW_EXCLUSIVE);
    s->transactional = true;
    s->undo_sql = xstrdup("DROP TRIGGER IF EXISTS convoy_users_a_sync ON public.users;\n"
                          "DROP FUNCTION IF EXISTS convoy.users_a_backfill_sync()");
    s->final_step = 12;
}

static void
build_validate(step_t *s)
{
    base_step(s, STEP_VALIDATE, 5);
    add_lock(s, "public.orders", LOCK_SHARE_UPDATE_EXCLUSIVE);
    add_lock(s, "public.users", LOCK_ROW_SHARE);
    s->scans = true;
    s->transactional = true;
    s->requires = 6;
}

static void
build_precheck(step_t *s)
{
    base_step(s, STEP_PRECHECK, 6);
    add_lock(s, "public.orders", LOCK_ACCESS_SHARE);
    add_lock(s, "public.users", LOCK_ACCESS_SHARE);
    s->scans = true;
    s->transactional = true;
    s->count_sql = xstrdup("SELECT count(*) FROM public.orders c WHERE c.user_id IS NOT NULL");
    s->sample_sql = xstrdup("SELECT concat_ws(', ', c.id::text) FROM public.orders c LIMIT 5");
    s->check_desc = xstrdup("reference a row of public.users that does not exist (orphans)");
}

static void
build_backfill(step_t *s)
{
    static const char *const cols[] = {"org_id", "\"User Id\"", "seq"};
    static const char *const types[] = {"bigint", "uuid", "timestamp with time zone"};

    base_step(s, STEP_BACKFILL, 7);
    add_lock(s, "public.memberships", LOCK_ROW_EXCLUSIVE);
    s->scans = true;
    s->transactional = true;
    s->table_sql = xstrdup("public.memberships");
    s->column_sql = xstrdup("\"joinedAt\"");
    s->expr_sql = xstrdup("COALESCE(joined, '2020-01-01'::timestamptz)");
    set_keys(s, cols, types, 3);
}

static void
build_catchup(step_t *s)
{
    static const char *const cols[] = {"id"};
    static const char *const types[] = {"bigint"};

    base_step(s, STEP_BACKFILL, 8);
    add_lock(s, "public.users", LOCK_ROW_EXCLUSIVE);
    s->scans = true;
    s->transactional = true;
    s->table_sql = xstrdup("public.users");
    s->column_sql = xstrdup("last_login");
    s->expr_sql = xstrdup("created_at");
    set_keys(s, cols, types, 1);
    s->catchup = true;
    s->fill_step = 3;
    s->requires = 4;
}

static void
build_index(step_t *s)
{
    base_step(s, STEP_INDEX, 9);
    add_lock(s, "public.users", LOCK_SHARE_UPDATE_EXCLUSIVE);
    s->scans = true;
    s->transactional = false;
    s->table_sql = xstrdup("public.users");
    s->index_schema = xstrdup("public");
    s->index_name = xstrdup("users_lower_email_key");
}

static void
build_drop_index(step_t *s)
{
    base_step(s, STEP_DROP_INDEX, 10);
    add_lock(s, "table of index users_name_idx", LOCK_SHARE_UPDATE_EXCLUSIVE);
    s->transactional = false;
    s->est_ms = 0;
    s->index_name = xstrdup("users_name_idx");
    /* index_schema NULL: unknown offline */
}

static void
build_passthrough(step_t *s)
{
    base_step(s, STEP_PASSTHROUGH, 11);
    s->transactional = true;
    s->est_ms = -1; /* unknown */
    /* no locks, no table: CREATE EXTENSION */
}

typedef struct {
    const char *name;
    void (*build)(step_t *s);
    step_kind_t kind;
} builder_t;

static const builder_t builders[] = {
    {"ddl (FK NOT VALID with undo, three locks)", build_ddl, STEP_DDL},
    {"ddl (sync trigger with two-statement undo)", build_trigger, STEP_DDL},
    {"validate", build_validate, STEP_VALIDATE},
    {"precheck", build_precheck, STEP_PRECHECK},
    {"backfill (composite key, first pass)", build_backfill, STEP_BACKFILL},
    {"backfill (catch-up)", build_catchup, STEP_BACKFILL},
    {"index", build_index, STEP_INDEX},
    {"drop_index", build_drop_index, STEP_DROP_INDEX},
    {"passthrough", build_passthrough, STEP_PASSTHROUGH},
};
#define N_BUILDERS (sizeof(builders) / sizeof(builders[0]))

/* ----------------------------------------------------------- comparing */

static void
assert_str_same(const char *field, const char *a, const char *b)
{
    if (a == NULL && b == NULL)
        return;
    if (a == NULL || b == NULL || strcmp(a, b) != 0)
        fail_msg("%s: \"%s\" came back as \"%s\"", field, a ? a : "(null)", b ? b : "(null)");
}

/* Every stored field of `a` equals that of `b` (uid is planner-internal and not stored). */
static void
assert_step_same(const step_t *a, const step_t *b)
{
    assert_int_equal(a->kind, b->kind);
    assert_str_same("sql", a->sql, b->sql);
    assert_str_same("summary", a->summary, b->summary);
    assert_int_equal(a->n_locks, b->n_locks);
    for (int k = 0; k < a->n_locks; k++) {
        assert_str_same("lock table", a->locks[k].table, b->locks[k].table);
        assert_int_equal(a->locks[k].mode, b->locks[k].mode);
    }
    assert_int_equal(a->rewrites, b->rewrites);
    assert_int_equal(a->scans, b->scans);
    assert_int_equal(a->transactional, b->transactional);
    assert_int_equal(a->est_ms, b->est_ms);
    assert_int_equal(a->phase, b->phase);
    assert_int_equal(a->line, b->line);
    assert_str_same("undo_sql", a->undo_sql, b->undo_sql);
    assert_int_equal(a->final_step, b->final_step);
    assert_int_equal(a->requires, b->requires);
    assert_str_same("table_sql", a->table_sql, b->table_sql);
    assert_str_same("column_sql", a->column_sql, b->column_sql);
    assert_str_same("expr_sql", a->expr_sql, b->expr_sql);
    assert_int_equal(a->n_keys, b->n_keys);
    for (size_t k = 0; k < a->n_keys; k++) {
        assert_str_same("key_cols", a->key_cols[k], b->key_cols[k]);
        assert_str_same("key_types", a->key_types[k], b->key_types[k]);
    }
    assert_int_equal(a->catchup, b->catchup);
    assert_int_equal(a->fill_step, b->fill_step);
    assert_str_same("count_sql", a->count_sql, b->count_sql);
    assert_str_same("sample_sql", a->sample_sql, b->sample_sql);
    assert_str_same("check_desc", a->check_desc, b->check_desc);
    assert_str_same("index_schema", a->index_schema, b->index_schema);
    assert_str_same("index_name", a->index_name, b->index_name);
}

/* encode -> text -> parse -> decode, as durable state does it (the spec is stored as jsonb). */
static void
round_trip(const step_t *in, step_t *out)
{
    json_t *o = plan_step_encode(in);
    char *text = json_dumps(o, JSON_COMPACT);
    json_error_t jerr;
    json_t *back;
    const char *err = NULL;

    json_decref(o);
    assert_non_null(text);
    back = json_loads(text, 0, &jerr);
    free(text);
    assert_non_null(back);
    if (!plan_step_decode(back, out, &err))
        fail_msg("decode refused its own encoding: %s", err ? err : "(no message)");
    json_decref(back);
}

/* -------------------------------------------------------- round trips */

static void
test_round_trip_kind(void **state)
{
    const builder_t *b = *state;
    step_t in, out, again;
    json_t *o;

    b->build(&in);
    assert_int_equal(in.kind, b->kind);
    round_trip(&in, &out);
    assert_step_same(&in, &out);
    assert_int_equal(out.uid, 0);

    /* the encoding names the version and the enums by name */
    o = plan_step_encode(&in);
    assert_int_equal(json_integer_value(json_object_get(o, "v")), PLAN_CODEC_VERSION);
    assert_string_equal(json_string_value(json_object_get(o, "kind")), step_kind_name(in.kind));
    for (int k = 0; k < in.n_locks; k++)
        assert_string_equal(json_string_value(json_object_get(
                                json_array_get(json_object_get(o, "locks"), k), "mode")),
                            lock_mode_name(in.locks[k].mode));
    json_decref(o);

    /* and decoding is a fixed point */
    round_trip(&out, &again);
    assert_step_same(&in, &again);

    plan_step_free(&in);
    plan_step_free(&out);
    plan_step_free(&again);
}

/* Every lock mode and every kind survives by name. */
static void
test_round_trip_every_enum(void **state)
{
    (void)state;
    for (int kind = STEP_DDL; kind <= STEP_PASSTHROUGH; kind++) {
        for (int mode = LOCK_ACCESS_SHARE; mode <= LOCK_ACCESS_EXCLUSIVE; mode++) {
            step_t in, out;
            step_kind_t k;
            lock_mode_t m;

            base_step(&in, (step_kind_t)kind, 1);
            add_lock(&in, "t", (lock_mode_t)mode);
            round_trip(&in, &out);
            assert_step_same(&in, &out);
            plan_step_free(&in);
            plan_step_free(&out);

            assert_true(step_kind_parse(step_kind_name((step_kind_t)kind), &k));
            assert_int_equal(k, kind);
            assert_true(lock_mode_parse(lock_mode_name((lock_mode_t)mode), &m));
            assert_int_equal(m, mode);
        }
    }
    {
        step_kind_t k = STEP_INDEX;
        lock_mode_t m = LOCK_SHARE;
        assert_false(step_kind_parse("orphan_check", &k)); /* the old name of precheck */
        assert_false(step_kind_parse(NULL, &k));
        assert_false(step_kind_parse("DDL", &k));
        assert_int_equal(k, STEP_INDEX);
        assert_false(lock_mode_parse("access exclusive", &m));
        assert_false(lock_mode_parse(NULL, &m));
        assert_false(lock_mode_parse("", &m));
        assert_int_equal(m, LOCK_SHARE);
    }
}

/* A step with every optional field absent: NULLs stay NULL, zeros stay zero. */
static void
test_round_trip_minimal(void **state)
{
    step_t in, out;

    (void)state;
    memset(&in, 0, sizeof(in));
    in.kind = STEP_PASSTHROUGH;
    in.sql = xstrdup("COMMENT ON TABLE t IS 'x'");
    in.est_ms = -1;
    round_trip(&in, &out);
    assert_step_same(&in, &out);
    assert_null(out.summary);
    assert_null(out.undo_sql);
    assert_null(out.table_sql);
    assert_null(out.count_sql);
    assert_null(out.index_schema);
    assert_int_equal(out.n_locks, 0);
    assert_int_equal(out.n_keys, 0);
    plan_step_free(&in);
    plan_step_free(&out);
}

/* Every step of real plans survives: what the engine resumes is what was planned. */
static void
test_round_trip_planned(void **state)
{
    static const char *const files[] = {
        "-- convoy:backfill last_login = created_at\n"
        "ALTER TABLE users ADD COLUMN last_login timestamptz NOT NULL DEFAULT now();\n"
        "ALTER TABLE users ADD CONSTRAINT age_positive CHECK (age > 0);\n"
        "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES "
        "users (id);\n"
        "CREATE UNIQUE INDEX users_lower_email_key ON users (lower(email));\n"
        "DROP INDEX users_name_idx;\n"
        "CREATE EXTENSION IF NOT EXISTS pgcrypto;\n",
        "-- convoy:backfill plan = 'free'\n"
        "ALTER TABLE \"Users\" ADD COLUMN plan text NOT NULL;\n"
        "ALTER TABLE \"Users\" ALTER COLUMN \"lastLogin\" SET NOT NULL;\n",
    };
    int seen[STEP_PASSTHROUGH + 1] = {0};
    bool catchup = false, refill = false;

    (void)state;
    for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
        migration_t m;
        parse_error_t perr;
        facts_t facts;
        plan_t p;

        assert_true(migration_parse("m.sql", files[f], &m, &perr));
        memset(&facts, 0, sizeof(facts));
        facts.server_version = 150000;
        plan_build(&m, &facts, &p);
        assert_int_equal(p.n_refusals + p.n_errors, 0);
        for (size_t i = 0; i < p.n_steps; i++) {
            step_t out;
            round_trip(&p.steps[i], &out);
            assert_step_same(&p.steps[i], &out);
            seen[p.steps[i].kind]++;
            catchup = catchup || out.catchup;
            refill = refill || (out.kind == STEP_BACKFILL && out.fill_step && !out.catchup);
            plan_step_free(&out);
        }
        plan_free(&p);
        facts_free(&facts);
        migration_free(&m);
    }
    for (int k = STEP_DDL; k <= STEP_PASSTHROUGH; k++)
        if (seen[k] == 0)
            fail_msg("no planned %s step was round-tripped", step_kind_name((step_kind_t)k));
    assert_true(catchup);
    assert_true(refill);
}

/* Settings: timeouts, batch target and the retry policy, with values no default shares. */
static void
test_settings_round_trip(void **state)
{
    plan_t in, out;
    json_t *o, *back;
    char *text;
    json_error_t jerr;
    const char *err = NULL;

    (void)state;
    memset(&in, 0, sizeof(in));
    in.lock_timeout_ms = 75;
    in.batch_target_ms = 333;
    in.statement_timeout_ms = 45000;
    in.retry.base_ms = 7;
    in.retry.cap_ms = 4321;
    in.retry.max_attempts = 13;
    in.retry.max_total_ms = 9876543210LL;
    in.backfill_workers = 5;
    o = plan_settings_encode(&in);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "v")), PLAN_CODEC_VERSION);
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    back = json_loads(text, 0, &jerr);
    free(text);
    assert_non_null(back);
    memset(&out, 0, sizeof(out));
    if (!plan_settings_decode(back, &out, &err))
        fail_msg("settings decode refused its own encoding: %s", err);
    json_decref(back);
    assert_int_equal(out.lock_timeout_ms, 75);
    assert_int_equal(out.batch_target_ms, 333);
    assert_int_equal(out.statement_timeout_ms, 45000);
    assert_int_equal(out.retry.base_ms, 7);
    assert_int_equal(out.retry.cap_ms, 4321);
    assert_int_equal(out.retry.max_attempts, 13);
    assert_int_equal(out.retry.max_total_ms, 9876543210LL);
    assert_int_equal(out.backfill_workers, 5);

    /* and the defaults a plan is built with */
    memset(&in, 0, sizeof(in));
    in.lock_timeout_ms = PLAN_DEFAULT_LOCK_TIMEOUT_MS;
    in.batch_target_ms = PLAN_DEFAULT_BATCH_TARGET_MS;
    in.statement_timeout_ms = PLAN_DEFAULT_STATEMENT_TIMEOUT_MS;
    retry_policy_default(&in.retry);
    o = plan_settings_encode(&in);
    memset(&out, 0, sizeof(out));
    assert_true(plan_settings_decode(o, &out, &err));
    json_decref(o);
    assert_memory_equal(&in.retry, &out.retry, sizeof(in.retry));
    assert_int_equal(out.lock_timeout_ms, PLAN_DEFAULT_LOCK_TIMEOUT_MS);
    assert_int_equal(out.backfill_workers, 1); /* unset: one session */
}

/* ------------------------------------------------------------ refusals */

/* A step object that decodes, as JSON, to be spoiled by each refusal case. */
static json_t *
good_object(void)
{
    step_t s;
    json_t *o;

    build_backfill(&s);
    o = plan_step_encode(&s);
    plan_step_free(&s);
    return o;
}

static void
set_keys_json(json_t *o, const char *key, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(i % 2 ? "uuid" : "bigint"));
    json_object_set_new(o, key, a);
}

typedef struct {
    const char *name;
    void (*spoil)(json_t *o);
    const char *err; /* substring of the message */
} refusal_t;

static void
spoil_newer(json_t *o)
{
    json_object_set_new(o, "v", json_integer(PLAN_CODEC_VERSION + 1));
}

static void
spoil_no_version(json_t *o)
{
    json_object_del(o, "v");
}

static void
spoil_version_zero(json_t *o)
{
    json_object_set_new(o, "v", json_integer(0));
}

static void
spoil_kind(json_t *o)
{
    json_object_set_new(o, "kind", json_string("orphan_check"));
}

static void
spoil_kind_number(json_t *o)
{
    json_object_set_new(o, "kind", json_integer(STEP_BACKFILL)); /* enums by number: pre-v2 */
}

static void
spoil_no_kind(json_t *o)
{
    json_object_del(o, "kind");
}

static void
spoil_lock_mode(json_t *o)
{
    json_t *locks = json_object_get(o, "locks");
    json_array_append_new(locks, json_pack("{s:s, s:s}", "table", "public.t", "mode", "SUPER"));
}

static void
spoil_lock_mode_number(json_t *o)
{
    json_t *locks = json_object_get(o, "locks");
    json_array_insert_new(locks, 0,
                          json_pack("{s:s, s:i}", "table", "public.t", "mode", LOCK_SHARE));
}

static void
spoil_more_key_cols(json_t *o)
{
    set_keys_json(o, "key_cols", 4);
    set_keys_json(o, "key_types", 3);
}

static void
spoil_more_key_types(json_t *o)
{
    set_keys_json(o, "key_cols", 2);
    set_keys_json(o, "key_types", 3);
}

static void
spoil_no_key_types(json_t *o)
{
    json_object_del(o, "key_types");
}

static void
spoil_no_key_cols(json_t *o)
{
    json_object_del(o, "key_cols");
}

static void
spoil_no_sql(json_t *o)
{
    json_object_set_new(o, "sql", json_null());
}

static const refusal_t refusals[] = {
    {"a newer encoding version", spoil_newer, "newer"},
    {"no version (stored before versioning)", spoil_no_version, "no version"},
    {"version 0", spoil_version_zero, "no version"},
    {"an unknown kind name", spoil_kind, "unknown step kind"},
    {"a kind stored by number", spoil_kind_number, "unknown step kind"},
    {"no kind", spoil_no_kind, "unknown step kind"},
    {"an unknown lock mode name (after good locks)", spoil_lock_mode, "unknown lock mode"},
    {"a lock mode stored by number", spoil_lock_mode_number, "unknown lock mode"},
    {"more key columns than key types", spoil_more_key_cols, "differ in number"},
    {"more key types than key columns", spoil_more_key_types, "differ in number"},
    {"key types missing", spoil_no_key_types, "differ in number"},
    {"key columns missing", spoil_no_key_cols, "differ in number"},
    {"no sql", spoil_no_sql, "no sql"},
};
#define N_REFUSALS (sizeof(refusals) / sizeof(refusals[0]))

static void
test_refusal(void **state)
{
    const refusal_t *r = *state;
    json_t *o = good_object();
    step_t out;
    const char *err = NULL;
    step_t zero;

    r->spoil(o);
    memset(&out, 0x5a, sizeof(out)); /* decode must not trust what it is given */
    assert_false(plan_step_decode(o, &out, &err));
    json_decref(o);
    assert_non_null(err);
    if (strstr(err, r->err) == NULL)
        fail_msg("%s: message \"%s\" lacks \"%s\"", r->name, err, r->err);
    /* nothing is left allocated in *out, and freeing it again is harmless */
    memset(&zero, 0, sizeof(zero));
    assert_memory_equal(&out, &zero, sizeof(out));
    plan_step_free(&out);
}

static void
test_refuse_not_an_object(void **state)
{
    json_t *values[] = {json_array(), json_string("step"), json_integer(2), json_null()};
    step_t out;
    plan_t p;

    (void)state;
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        const char *err = NULL;
        assert_false(plan_step_decode(values[i], &out, &err));
        assert_non_null(err);
        err = NULL;
        memset(&p, 0, sizeof(p));
        assert_false(plan_settings_decode(values[i], &p, &err));
        assert_non_null(err);
        json_decref(values[i]);
    }
    {
        const char *err = NULL;
        assert_false(plan_step_decode(NULL, &out, &err));
        assert_non_null(err);
    }
}

static json_t *
good_settings(void)
{
    plan_t p;

    memset(&p, 0, sizeof(p));
    p.lock_timeout_ms = 50;
    p.batch_target_ms = 200;
    p.statement_timeout_ms = 15000;
    retry_policy_default(&p.retry);
    return plan_settings_encode(&p);
}

static void
test_settings_refusals(void **state)
{
    static const char *const drop[] = {"lock_timeout_ms", "batch_target_ms", "statement_timeout_ms",
                                       "retry"};
    plan_t p;
    json_t *o;
    const char *err;

    (void)state;
    o = good_settings();
    json_object_set_new(o, "v", json_integer(PLAN_CODEC_VERSION + 1));
    err = NULL;
    memset(&p, 0, sizeof(p));
    assert_false(plan_settings_decode(o, &p, &err));
    assert_non_null(err);
    assert_non_null(strstr(err, "newer"));
    json_decref(o);

    o = good_settings();
    json_object_del(o, "v");
    err = NULL;
    assert_false(plan_settings_decode(o, &p, &err));
    assert_non_null(err);
    assert_non_null(strstr(err, "no version"));
    json_decref(o);

    for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++) {
        o = good_settings();
        json_object_del(o, drop[i]);
        err = NULL;
        memset(&p, 0, sizeof(p));
        if (plan_settings_decode(o, &p, &err))
            fail_msg("settings without %s were accepted", drop[i]);
        assert_non_null(err);
        json_decref(o);
    }

    o = good_settings();
    json_object_set_new(o, "lock_timeout_ms", json_integer(-5));
    err = NULL;
    assert_false(plan_settings_decode(o, &p, &err));
    assert_non_null(err);
    json_decref(o);
}

/* Keys a newer convoy adds are skipped, not refused. */
static void
test_unknown_keys_ignored(void **state)
{
    json_t *o = good_object();
    step_t want, out;
    const char *err = NULL;

    (void)state;
    json_object_set_new(o, "added_by_a_later_minor", json_pack("{s:i}", "x", 1));
    assert_true(plan_step_decode(o, &out, &err));
    json_decref(o);
    build_backfill(&want);
    assert_step_same(&want, &out);
    plan_step_free(&want);
    plan_step_free(&out);
}

int
main(void)
{
    struct CMUnitTest kinds[N_BUILDERS], refuse[N_REFUSALS];
    const struct CMUnitTest misc[] = {
        cmocka_unit_test(test_round_trip_every_enum), cmocka_unit_test(test_round_trip_minimal),
        cmocka_unit_test(test_round_trip_planned),    cmocka_unit_test(test_settings_round_trip),
        cmocka_unit_test(test_refuse_not_an_object),  cmocka_unit_test(test_settings_refusals),
        cmocka_unit_test(test_unknown_keys_ignored),
    };
    int failed = 0;

    memset(kinds, 0, sizeof(kinds));
    memset(refuse, 0, sizeof(refuse));
    for (size_t i = 0; i < N_BUILDERS; i++) {
        kinds[i].name = builders[i].name;
        kinds[i].test_func = test_round_trip_kind;
        kinds[i].initial_state = (void *)&builders[i];
    }
    for (size_t i = 0; i < N_REFUSALS; i++) {
        refuse[i].name = refusals[i].name;
        refuse[i].test_func = test_refusal;
        refuse[i].initial_state = (void *)&refusals[i];
    }
    failed += _cmocka_run_group_tests("codec_round_trip", kinds, N_BUILDERS, NULL, NULL);
    failed += _cmocka_run_group_tests("codec_refusals", refuse, N_REFUSALS, NULL, NULL);
    failed += cmocka_run_group_tests_name("codec_misc", misc, NULL, NULL);
    return failed == 0 ? 0 : 1;
}
