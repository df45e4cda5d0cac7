/* test_cli.c: the command-line surface: --version, --help, usage errors, exit codes, JSON. */
#include "itest.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

#define MAX_ARGS 12

typedef struct {
    int rc;
    char *out;
    char *err;
} run_t;

/* Runs convoy with args (NULL-terminated, without the binary); output kept by the arena. */
static run_t
run(const char *const args[])
{
    const char *argv[MAX_ARGS + 2];
    run_t r = {0};
    size_t n = 0;

    argv[n++] = itest_convoy_bin();
    for (size_t i = 0; args[i] != NULL && n < MAX_ARGS + 1; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    r.rc = harness_run(argv, &r.out, &r.err, ITEST_CONVOY_TIMEOUT_MS);
    if (r.out == NULL)
        r.out = calloc(1, 1);
    if (r.err == NULL)
        r.err = calloc(1, 1);
    itest_keep(r.out);
    itest_keep(r.err);
    fprintf(stderr, "cli: convoy");
    for (size_t i = 1; argv[i] != NULL; i++)
        fprintf(stderr, " %s", argv[i]);
    fprintf(stderr, " -> exit %d\nstdout: %s\nstderr: %s\n", r.rc, r.out, r.err);
    return r;
}

static void
test_version(void **state)
{
    static const char want[] = "convoy " CONVOY_VERSION "\n";
    const char *long_args[] = {"--version", NULL};
    const char *short_args[] = {"-V", NULL};
    run_t r;

    (void)state;
    r = run(long_args);
    assert_int_equal(r.rc, CONVOY_EXIT_OK);
    assert_string_equal(r.out, want);
    r = run(short_args);
    assert_int_equal(r.rc, CONVOY_EXIT_OK);
    assert_string_equal(r.out, want);
}

/* Each command's --help: its usage, exactly its options, and its exit codes. */
static void
test_command_help(void **state)
{
    static const struct {
        const char *cmd;
        const char *usage;
        const char *has[6];
        const char *lacks[4];
        const char *codes[10];
    } cases[] = {
        {"plan",
         "usage: convoy plan FILE [options]\n",
         {"--db CONNINFO", "--json", "--offline", "--verbose", "--help", NULL},
         {"--quiet", NULL},
         {"  0  ", "  1  ", "  2  ", "  3  ", NULL}},
        {"apply",
         "usage: convoy apply FILE [options]\n",
         {"--db CONNINFO", "--json", "--quiet", "--verbose", "--help", NULL},
         {"--offline", NULL},
         {"  0  ", "  1  ", "  2  ", "  3  ", "  4  ", "  5  ", "  6  ", "  7  ", NULL}},
        {"status",
         "usage: convoy status [NAME] [options]\n",
         {"--db CONNINFO", "--json", "--verbose", "--help", NULL},
         {"--quiet", "--offline", NULL},
         {"  0  ", "  1  ", "  2  ", "  8  ", NULL}},
        {"audit",
         "usage: convoy audit [NAME] [options]\n",
         {"--db CONNINFO", "--json", "--verbose", "--help", NULL},
         {"--quiet", "--offline", NULL},
         {"  0  ", "  1  ", "  2  ", "  8  ", NULL}},
        {"abort",
         "usage: convoy abort NAME [options]\n",
         {"--db CONNINFO", "--json", "--quiet", "--verbose", "--help", NULL},
         {"--offline", NULL},
         {"  0  ", "  1  ", "  2  ", "  4  ", "  8  ", NULL}},
        {"fsm",
         "usage: convoy fsm [options]\n",
         {"--json", "--help", NULL},
         {"--db CONNINFO", "--quiet", "--offline", NULL},
         {"  0  ", "  2  ", NULL}},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *args[] = {cases[i].cmd, "--help", NULL};
        const char *help_args[] = {"help", cases[i].cmd, NULL};
        run_t r = run(args);
        run_t h = run(help_args);
        const char *codes;

        assert_int_equal(r.rc, CONVOY_EXIT_OK);
        assert_string_equal(r.err, "");
        assert_int_equal(strncmp(r.out, cases[i].usage, strlen(cases[i].usage)), 0);
        for (size_t k = 0; cases[i].has[k] != NULL; k++)
            if (strstr(r.out, cases[i].has[k]) == NULL)
                fail_msg("convoy %s --help lacks %s", cases[i].cmd, cases[i].has[k]);
        for (size_t k = 0; cases[i].lacks[k] != NULL; k++)
            if (strstr(r.out, cases[i].lacks[k]) != NULL)
                fail_msg("convoy %s --help offers %s", cases[i].cmd, cases[i].lacks[k]);
        codes = strstr(r.out, "\nexit status:\n");
        assert_non_null(codes);
        for (size_t k = 0; cases[i].codes[k] != NULL; k++)
            if (strstr(codes, cases[i].codes[k]) == NULL)
                fail_msg("convoy %s --help lacks exit code%s", cases[i].cmd, cases[i].codes[k]);
        /* `convoy help COMMAND` is the same text. */
        assert_int_equal(h.rc, CONVOY_EXIT_OK);
        assert_string_equal(h.out, r.out);
    }
}

/* Usage errors: one line naming the problem and the right --help, exit 2, nothing done. */
static void
test_usage_messages(void **state)
{
    itest_env_t *env = *state;
    char *path = itest_write_migration(env, "offline_apply.sql",
                                       "-- convoy:name offline_apply\n"
                                       "CREATE TABLE must_not_exist (id int);\n");
    const struct {
        const char *args[MAX_ARGS];
        const char *want;
    } cases[] = {
        {{NULL}, "convoy: no command given; see 'convoy --help'\n"},
        {{"frobnicate", NULL}, "convoy: unknown command 'frobnicate'; see 'convoy --help'\n"},
        {{"--db", "x", "status", NULL},
         "convoy: expected a command before '--db'; see 'convoy --help'\n"},
        {{"plan", "x.sql", "--foo", NULL},
         "convoy plan: unknown option '--foo'; see 'convoy plan --help'\n"},
        {{"plan", "-x", "x.sql", NULL},
         "convoy plan: unknown option '-x'; see 'convoy plan --help'\n"},
        {{"plan", "--json=yes", "x.sql", NULL},
         "convoy plan: option '--json' takes no value; see 'convoy plan --help'\n"},
        {{"plan", "x.sql", "--db", NULL},
         "convoy plan: option '--db' needs a value (CONNINFO); see 'convoy plan --help'\n"},
        {{"apply", "--offline", path, "--db", env->db_arg, NULL},
         "convoy apply: option '--offline' means nothing for apply (only for plan); see "
         "'convoy apply --help'\n"},
        {{"abort", "--offline", "x", "--db", env->db_arg, NULL},
         "convoy abort: option '--offline' means nothing for abort (only for plan); see "
         "'convoy abort --help'\n"},
        {{"status", "--quiet", NULL},
         "convoy status: option '--quiet' means nothing for status (only for apply and abort); "
         "see 'convoy status --help'\n"},
        {{"audit", "--offline", NULL},
         "convoy audit: option '--offline' means nothing for audit (only for plan); see "
         "'convoy audit --help'\n"},
        {{"apply", NULL},
         "convoy apply: expected exactly one migration FILE, got 0 arguments; see 'convoy "
         "apply --help'\n"},
        {{"apply", "--cluster", "x.sql", NULL},
         "convoy apply: expected a migration FILE; --cluster took 'x.sql' as the cluster config: "
         "put the cluster config after --cluster, or set $CONVOY_CLUSTER; see 'convoy apply "
         "--help'\n"},
        {{"plan", "a.sql", "b.sql", NULL},
         "convoy plan: expected exactly one migration FILE, got 2 arguments; see 'convoy plan "
         "--help'\n"},
        {{"abort", NULL},
         "convoy abort: expected exactly one migration NAME, got 0 arguments; see 'convoy "
         "abort --help'\n"},
        {{"status", "a", "b", NULL},
         "convoy status: expected at most one migration NAME, got 2 arguments; see 'convoy "
         "status --help'\n"},
    };
    int failures = 0;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_t r = run(cases[i].args);
        if (r.rc != CONVOY_EXIT_USAGE || strcmp(r.err, cases[i].want) != 0 || r.out[0] != '\0') {
            fprintf(stderr, "FAIL: expected exit %d, empty stdout and exactly\n%s",
                    CONVOY_EXIT_USAGE, cases[i].want);
            failures++;
        }
    }
    /* apply --offline used to apply the migration. */
    if (itest_int(env->conn, "SELECT count(*) FROM pg_class WHERE relname = 'must_not_exist'") !=
        0) {
        fprintf(stderr, "FAIL: apply --offline changed the database\n");
        failures++;
    }
    if (failures > 0)
        fail_msg("%d usage errors misbehaved (see FAIL lines above)", failures);
}

/* -v turns on debug logging; without it there is none. */
static void
test_verbose(void **state)
{
    itest_env_t *env = *state;
    char *path = itest_write_migration(env, "verbose.sql",
                                       "-- convoy:name verbose\n"
                                       "ALTER TABLE users ADD COLUMN loud int;\n");
    const char *quiet_args[] = {"plan", "--offline", path, NULL};
    const char *verbose_args[] = {"plan", "--offline", "-v", path, NULL};
    run_t q = run(quiet_args), v = run(verbose_args);

    assert_int_equal(q.rc, CONVOY_EXIT_OK);
    assert_null(strstr(q.err, "DEBUG"));
    assert_int_equal(v.rc, CONVOY_EXIT_OK);
    assert_non_null(strstr(v.err, " DEBUG "));
    assert_non_null(strstr(v.err, "parsed "));
    assert_non_null(strstr(v.err, "migration verbose, 1 actions"));
    assert_non_null(strstr(v.err, "planning offline"));
    /* Debug output goes to stderr: the plan on stdout is the same. */
    assert_string_equal(q.out, v.out);
}

static const char not_found[] =
    "convoy: no migration named nope in this database; `convoy status` lists the migrations it "
    "has\n";

/* The same outcome is the same exit code for every command; no convoy schema included. */
static void
test_exit_codes(void **state)
{
    itest_env_t *env = *state;
    char *fresh = itest_keep(harness_pg_conninfo_db(env->pg, "fresh"));
    const char *name_cmds[] = {"status", "audit", "abort"};
    const char *dbs[2];

    itest_exec(env->conn, "CREATE DATABASE fresh");
    itest_exec(env->conn,
               "CREATE TABLE users (id bigserial PRIMARY KEY, name text);"
               "INSERT INTO users (name) SELECT 'u' || g FROM generate_series(1, 100) g");
    /* Listing an empty (or absent) convoy schema is an empty list, not an error. */
    {
        const char *status_args[] = {"status", "--db", fresh, NULL};
        const char *status_json[] = {"status", "--json", "--db", fresh, NULL};
        const char *audit_json[] = {"audit", "--json", "--db", fresh, NULL};
        run_t r = run(status_args);
        assert_int_equal(r.rc, CONVOY_EXIT_OK);
        assert_string_equal(r.out, "no convoy migrations in this database yet\n");
        r = run(status_json);
        assert_int_equal(r.rc, CONVOY_EXIT_OK);
        assert_string_equal(r.out, "[]\n");
        r = run(audit_json);
        assert_int_equal(r.rc, CONVOY_EXIT_OK);
        assert_string_equal(r.out, "[]\n");
    }
    /* An unknown NAME: without a convoy schema, and with one. */
    {
        char *path = itest_write_migration(env, "codes.sql",
                                           "-- convoy:name codes\n"
                                           "ALTER TABLE users ADD COLUMN codes int;\n");
        const char *apply_args[] = {"apply", "--json", path, NULL};
        assert_int_equal(itest_convoy(env, apply_args).rc, CONVOY_EXIT_OK);
    }
    dbs[0] = fresh;
    dbs[1] = env->db_arg;
    for (size_t d = 0; d < 2; d++) {
        for (size_t i = 0; i < sizeof(name_cmds) / sizeof(name_cmds[0]); i++) {
            const char *args[] = {name_cmds[i], "nope", "--db", dbs[d], NULL};
            run_t r = run(args);
            assert_int_equal(r.rc, CONVOY_EXIT_NOT_FOUND);
            assert_string_equal(r.err, not_found);
            assert_string_equal(r.out, "");
        }
    }
    /* A known NAME works for the commands that read. */
    {
        const char *status_args[] = {"status", "codes", NULL};
        const char *audit_args[] = {"audit", "codes", NULL};
        assert_int_equal(itest_convoy(env, status_args).rc, CONVOY_EXIT_OK);
        assert_int_equal(itest_convoy(env, audit_args).rc, CONVOY_EXIT_OK);
    }
}

/* "2024-05-01T12:34:56.123456+00:00": ISO 8601 with a T and a numeric offset. */
static bool
is_iso_timestamp(const json_t *v)
{
    const char *s = json_string_value(v);
    size_t n = s ? strlen(s) : 0;

    return n >= 25 && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' && s[16] == ':' &&
           (s[n - 6] == '+' || s[n - 6] == '-') && s[n - 3] == ':';
}

/* A string member, or "(not a string)" so that a failing comparison reports, not crashes. */
static const char *
jstr(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v != NULL ? v : "(not a string)";
}

static json_t *
parse_json(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);

    if (v == NULL)
        fail_msg("not JSON (%s at line %d): %s", e.text, e.line, text);
    return v;
}

/* apply --json of a refused file, and of an unparsable one, carries the reasons. */
static void
test_apply_json_reasons(void **state)
{
    itest_env_t *env = *state;
    char *refused = itest_write_migration(env, "refused_json.sql",
                                          "ALTER TABLE users ADD COLUMN s bigserial;\n");
    char *broken = itest_write_migration(env, "broken_json.sql", "ALTER TABLE users ADD;\n");
    const char *a1[] = {"apply", "--json", refused, NULL};
    const char *a2[] = {"apply", "--json", broken, NULL};
    convoy_result_t r;
    json_t *o, *note;

    r = itest_convoy(env, a1);
    assert_int_equal(r.rc, CONVOY_EXIT_UNSAFE);
    o = parse_json(r.out);
    assert_string_equal(jstr(o, "result"), "refused");
    assert_int_equal((int)json_integer_value(json_object_get(o, "exit_code")), CONVOY_EXIT_UNSAFE);
    note = json_array_get(json_object_get(o, "notes"), 0);
    assert_non_null(note);
    assert_string_equal(jstr(note, "kind"), "refused");
    assert_int_equal((int)json_integer_value(json_object_get(note, "line")), 1);
    assert_true(json_is_string(json_object_get(note, "fix")));
    json_decref(o);

    r = itest_convoy(env, a2);
    assert_int_equal(r.rc, CONVOY_EXIT_ERROR);
    o = parse_json(r.out);
    assert_string_equal(jstr(o, "result"), "invalid");
    assert_true(itest_contains_ci(jstr(o, "message"), "broken_json.sql:1:"));
    json_decref(o);
}

/* status --json and audit --json: typed values, and plan's key names where they overlap. */
static void
test_json_typed(void **state)
{
    itest_env_t *env = *state;
    char *path = itest_write_migration(env, "typed.sql",
                                       "-- convoy:name typed\n"
                                       "-- convoy:backfill typed = id * 2\n"
                                       "ALTER TABLE users ADD COLUMN typed bigint NOT NULL "
                                       "DEFAULT 0;\n");
    const char *plan_args[] = {"plan", "--json", path, NULL};
    const char *apply_args[] = {"apply", "--json", path, NULL};
    const char *status_args[] = {"status", "typed", "--json", NULL};
    const char *audit_args[] = {"audit", "typed", "--json", NULL};
    json_t *plan, *status, *audit, *m, *e, *next, *bf;
    convoy_result_t r;
    size_t i;
    bool saw_duration = false, saw_locks = false;

    r = itest_convoy(env, plan_args);
    assert_int_equal(r.rc, CONVOY_EXIT_OK);
    plan = parse_json(r.out);
    r = itest_convoy(env, apply_args);
    assert_int_equal(r.rc, CONVOY_EXIT_OK);
    /* apply --json verifies too (the expand gate waits for it), and says so in its object */
    {
        json_t *applied = parse_json(r.out), *v = json_object_get(applied, "verification");
        assert_true(json_is_object(v));
        assert_true(json_is_true(json_object_get(v, "passed")));
        assert_true(json_array_size(json_object_get(v, "checks")) > 2);
        json_decref(applied);
    }

    r = itest_convoy(env, status_args);
    assert_int_equal(r.rc, CONVOY_EXIT_OK);
    status = parse_json(r.out);
    assert_true(json_is_array(status));
    assert_int_equal(json_array_size(status), 1);
    m = json_array_get(status, 0);
    /* The name has the key plan --json gives it. */
    assert_string_equal(jstr(plan, "migration"), "typed");
    assert_string_equal(jstr(m, "migration"), "typed");
    assert_string_equal(jstr(m, "status"), "done");
    assert_true(json_is_integer(json_object_get(m, "current_step")));
    assert_true(json_is_integer(json_object_get(m, "n_steps")));
    assert_int_equal(json_integer_value(json_object_get(m, "n_steps")),
                     json_array_size(json_object_get(plan, "steps")));
    assert_true(is_iso_timestamp(json_object_get(m, "started_at")));
    assert_true(is_iso_timestamp(json_object_get(m, "updated_at")));
    assert_true(is_iso_timestamp(json_object_get(m, "finished_at")));
    assert_true(json_is_null(json_object_get(m, "error")));
    assert_true(json_is_null(json_object_get(m, "lease_holder")));
    next = json_object_get(m, "next_step");
    assert_true(json_is_null(next)); /* done: nothing next */
    bf = json_object_get(m, "backfill");
    assert_true(json_is_object(bf));
    assert_true(json_is_integer(json_object_get(bf, "rows_done")));
    assert_true(json_is_integer(json_object_get(bf, "step")));
    assert_true(is_iso_timestamp(json_object_get(bf, "updated_at")));

    r = itest_convoy(env, audit_args);
    assert_int_equal(r.rc, CONVOY_EXIT_OK);
    audit = parse_json(r.out);
    assert_true(json_is_array(audit));
    assert_true(json_array_size(audit) > 2);
    json_array_foreach(audit, i, e)
    {
        const json_t *step = json_object_get(e, "step");
        const json_t *dur = json_object_get(e, "duration_ms");
        const json_t *rows = json_object_get(e, "rows");
        const json_t *locks = json_object_get(e, "locks");
        size_t k;
        const json_t *l;

        assert_true(json_is_integer(json_object_get(e, "id")));
        assert_true(is_iso_timestamp(json_object_get(e, "at")));
        assert_string_equal(jstr(e, "migration"), "typed");
        assert_true(json_is_integer(step) || json_is_null(step));
        assert_true(json_is_integer(dur) || json_is_null(dur));
        assert_true(json_is_integer(rows) || json_is_null(rows));
        assert_true(json_is_string(json_object_get(e, "outcome")));
        assert_true(json_is_array(locks) || json_is_null(locks));
        saw_duration = saw_duration || json_is_integer(dur);
        /* Locks as plan --json writes them: [{"table": ..., "mode": ...}]. */
        json_array_foreach(locks, k, l)
        {
            assert_true(json_is_string(json_object_get(l, "table")));
            assert_true(json_is_string(json_object_get(l, "mode")));
            saw_locks = true;
        }
    }
    assert_true(saw_duration);
    assert_true(saw_locks);
    json_decref(plan);
    json_decref(status);
    json_decref(audit);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_command_help),
        cmocka_unit_test(test_usage_messages),
        cmocka_unit_test(test_verbose),
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_json_typed),
        cmocka_unit_test(test_apply_json_reasons),
    };

    itest_init();
    return cmocka_run_group_tests(tests, itest_setup, itest_teardown);
}
