/*
 * test_safety.c: the safety defects of issue 5, each against a real server.
 *  1.3 a backfill expression that fails: application writes still succeed, the key is named
 *  1.5 CREATE INDEX whose name belongs to another table's index: an error naming that table
 *  1.6 SET NOT NULL / CHECK on violating data: refused before anything is added, with a
 *      count and a sample; a violation that appears only at VALIDATE removes the helper
 *  1.7 SIGINT during lock retries and during a CIC: exit within 1 s, consistent, audited
 */
#include "itest.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

static int
count(itest_env_t *env, const char *sql)
{
    return (int)itest_int(env->conn, sql);
}

static bool
app_write_ok(itest_env_t *env, const char *sql)
{
    return harness_exec(env->conn, sql);
}

static void
test_failing_expression_keeps_writes(void **state)
{
    itest_env_t *env = *state;
    const char *path;
    convoy_result_t r;

    /* a zero early in key order: the plan's read-only sample finds it, nothing is changed */
    itest_exec(env->conn, "CREATE TABLE fx (id bigint PRIMARY KEY, val int NOT NULL);"
                          "INSERT INTO fx SELECT g, g FROM generate_series(1, 30000) g;"
                          "UPDATE fx SET val = 0 WHERE id IN (4242, 25000); ANALYZE fx;");
    path = itest_write_migration(env, "fx_div.sql",
                                 "-- convoy:backfill ratio = 1000 / val\n"
                                 "ALTER TABLE fx ADD COLUMN ratio int;\n");
    {
        const char *args[] = {"plan", path, NULL};
        r = itest_convoy(env, args);
    }
    assert_int_equal(r.rc, CONVOY_EXIT_ERROR);
    assert_true(itest_contains_ci(r.out, "(id)=(4242)"));
    assert_true(itest_contains_ci(r.out, "division by zero"));
    {
        const char *args[] = {"apply", path, NULL};
        r = itest_convoy(env, args);
    }
    assert_int_equal(r.rc, CONVOY_EXIT_ERROR);
    assert_true(itest_mentions_location(r.err, path, 1));
    assert_int_equal(count(env, "SELECT count(*) FROM pg_attribute WHERE attrelid = "
                                "'fx'::regclass AND attname = 'ratio'"),
                     0);

    /* past the sample, the backfill itself meets it: stopped safely, the key named */
    itest_exec(env->conn, "UPDATE fx SET val = 1 WHERE id = 4242");
    {
        const char *args[] = {"apply", path, NULL};
        r = itest_convoy(env, args);
    }
    assert_int_equal(r.rc, CONVOY_EXIT_ERROR);
    assert_true(itest_contains_ci(r.err, "(id)=(25000)"));
    assert_true(itest_contains_ci(r.err, "division by zero"));
    assert_true(itest_mentions_location(r.err, path, 2));
    assert_true(itest_contains_ci(r.err, "fix:"));
    assert_string_equal(itest_text(env->conn, "SELECT status FROM convoy.migrations WHERE name "
                                              "= 'fx_div'"),
                        "failed");
    /* nothing convoy installed makes a write fail */
    assert_int_equal(count(env, "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'fx'::regclass "
                                "AND NOT tgisinternal"),
                     0);
    assert_true(app_write_ok(env, "INSERT INTO fx (id, val) VALUES (900001, 0)"));
    assert_true(app_write_ok(env, "UPDATE fx SET val = 0 WHERE id = 17"));
    /* fixing the data and applying again resumes and finishes */
    itest_exec(env->conn, "UPDATE fx SET val = 1 WHERE val = 0");
    {
        const char *args[] = {"apply", path, NULL};
        r = itest_convoy(env, args);
    }
    assert_int_equal(r.rc, CONVOY_EXIT_OK);
    assert_int_equal(count(env, "SELECT count(*) FROM fx WHERE ratio IS DISTINCT FROM 1000 / val"),
                     0);

    /* a value the type rejects: 'n/a' for an int column, caught by the plan */
    path = itest_write_migration(env, "fx_na.sql",
                                 "-- convoy:backfill a = 'n/a'\n"
                                 "ALTER TABLE fx ADD COLUMN a int;\n");
    {
        const char *args[] = {"apply", path, NULL};
        r = itest_convoy(env, args);
    }
    assert_int_equal(r.rc, CONVOY_EXIT_ERROR);
    assert_true(itest_contains_ci(r.err, "invalid input syntax for type integer"));
    assert_true(app_write_ok(env, "INSERT INTO fx (id, val) VALUES (900002, 5)"));
    assert_true(app_write_ok(env, "UPDATE fx SET val = 6 WHERE id = 18"));
}

static void
test_index_name_of_another_table(void **state)
{
    itest_env_t *env = *state;
    const char *path;
    convoy_result_t r;

    itest_exec(env->conn, "CREATE TABLE other (id int PRIMARY KEY);"
                          "CREATE TABLE ix (id int PRIMARY KEY, val int);"
                          "INSERT INTO ix SELECT g, g FROM generate_series(1, 100) g;");
    path = itest_write_migration(env, "ix_collide.sql", "CREATE INDEX other_pkey ON ix (val);\n");
    {
        const char *args[] = {"apply", path, NULL};
        r = itest_convoy(env, args);
    }
    assert_int_equal(r.rc, CONVOY_EXIT_ERROR);
    assert_true(itest_contains_ci(r.err, "relation \"other_pkey\" already exists"));
    assert_true(itest_contains_ci(r.err, "other"));
    assert_int_equal(count(env, "SELECT count(*) FROM pg_index WHERE indrelid = 'ix'::regclass"),
                     1);
}

static void
test_not_null_on_violating_data(void **state)
{
    itest_env_t *env = *state;
    const char *path;
    convoy_result_t r;

    itest_exec(env->conn, "CREATE TABLE nn (id bigint PRIMARY KEY, bio text, score int);"
                          "INSERT INTO nn SELECT g, CASE WHEN g % 5 = 0 THEN NULL ELSE 'b' END, "
                          "g FROM generate_series(1, 1000) g;");
    path = itest_write_migration(env, "nn.sql", "ALTER TABLE nn ALTER COLUMN bio SET NOT NULL;\n");
    {
        const char *args[] = {"apply", path, NULL};
        r = itest_convoy(env, args);
    }
    assert_int_equal(r.rc, CONVOY_EXIT_PRECONDITION);
    assert_true(itest_contains_number(r.err, 200));
    assert_true(itest_contains_ci(r.err, "sample keys: (5)"));
    assert_true(itest_contains_ci(r.err, "Nothing was added"));
    assert_int_equal(count(env, "SELECT count(*) FROM pg_constraint WHERE conrelid = "
                                "'nn'::regclass AND contype = 'c'"),
                     0);
    assert_true(app_write_ok(env, "UPDATE nn SET score = score + 1 WHERE id = 5"));
    assert_true(app_write_ok(env, "INSERT INTO nn (id, score) VALUES (5001, 1)"));

    /* a CHECK the data breaks: the same */
    path = itest_write_migration(env, "nn_check.sql",
                                 "ALTER TABLE nn ADD CONSTRAINT score_max CHECK (score <= 100);\n");
    {
        const char *args[] = {"apply", path, NULL};
        r = itest_convoy(env, args);
    }
    assert_int_equal(r.rc, CONVOY_EXIT_PRECONDITION);
    assert_true(itest_contains_ci(r.err, "break CHECK"));
    assert_int_equal(count(env, "SELECT count(*) FROM pg_constraint WHERE conname = 'score_max'"),
                     0);
    assert_true(app_write_ok(env, "UPDATE nn SET bio = 'x' WHERE id = 500"));
}

/* The violation appears between the pre-check and VALIDATE: the helper is removed again. */
static void
test_violation_at_validate(void **state)
{
    itest_env_t *env = *state;
    const char *path;
    const char *args[] = {"apply", NULL, NULL};
    PGconn *blocker;
    pid_t pid;
    int rc;
    char *err;

    itest_exec(env->conn, "CREATE TABLE nv (id bigint PRIMARY KEY, bio text, score int);"
                          "INSERT INTO nv SELECT g, 'b', g FROM generate_series(1, 1000) g;");
    path = itest_write_migration(env, "nv.sql",
                                 "-- convoy:lock-timeout 20ms\n"
                                 "ALTER TABLE nv ALTER COLUMN bio SET NOT NULL;\n");
    args[1] = path;
    /* hold the table so the helper's ADD CONSTRAINT keeps retrying after the pre-check */
    blocker = harness_connect(env->pg);
    assert_true(harness_exec(blocker, "BEGIN") && harness_exec(blocker, "SELECT count(*) FROM nv"));
    pid = itest_convoy_spawn(env, args, "nv_apply");
    assert_true(harness_poll_sql(env->conn,
                                 "SELECT coalesce((SELECT status = 'done' FROM convoy.steps WHERE "
                                 "migration = 'nv' AND n = 1), false)",
                                 30000));
    /* a writer sneaks a NULL in between the retries */
    assert_true(app_write_ok(env, "INSERT INTO nv (id, bio, score) VALUES (77777, NULL, 1)"));
    assert_true(harness_exec(blocker, "COMMIT"));
    PQfinish(blocker);
    rc = harness_wait(pid, 60000);
    err = itest_spawn_output(env, "nv_apply");
    assert_int_equal(rc, CONVOY_EXIT_PRECONDITION);
    assert_true(itest_contains_ci(err, "(77777)"));
    assert_true(itest_contains_ci(err, "removed:"));
    assert_int_equal(count(env, "SELECT count(*) FROM pg_constraint WHERE conrelid = "
                                "'nv'::regclass AND contype = 'c'"),
                     0);
    assert_true(app_write_ok(env, "UPDATE nv SET score = score + 1 WHERE id = 77777"));
    assert_true(app_write_ok(env, "INSERT INTO nv (id, score) VALUES (77778, 1)"));
}

static void
test_sigint_during_lock_retries(void **state)
{
    itest_env_t *env = *state;
    const char *path;
    const char *args[] = {"apply", NULL, NULL};
    PGconn *blocker;
    pid_t pid;
    int rc;
    int64_t t0, dt;

    itest_exec(env->conn, "CREATE TABLE si (id bigint PRIMARY KEY, v int);"
                          "INSERT INTO si SELECT g, g FROM generate_series(1, 1000) g;");
    path = itest_write_migration(env, "si.sql", "ALTER TABLE si ADD COLUMN note text;\n");
    args[1] = path;
    blocker = harness_connect(env->pg);
    assert_true(harness_exec(blocker, "BEGIN") && harness_exec(blocker, "SELECT count(*) FROM si"));
    pid = itest_convoy_spawn(env, args, "si_apply");
    assert_true(harness_poll_sql(env->conn,
                                 "SELECT coalesce((SELECT status = 'running' FROM "
                                 "convoy.migrations WHERE name = 'si'), false)",
                                 30000));
    harness_sleep_ms(500); /* well into the retries */
    t0 = harness_now_ms();
    kill(pid, SIGINT);
    rc = harness_wait(pid, 10000);
    dt = harness_now_ms() - t0;
    itest_spawn_output(env, "si_apply");
    fprintf(stderr, "sigint during lock retries: exit %d after %lld ms\n", rc, (long long)dt);
    assert_int_equal(rc, CONVOY_EXIT_ABORTED);
    assert_true(dt < 1000);
    assert_string_equal(
        itest_text(env->conn, "SELECT status FROM convoy.migrations WHERE name = 'si'"),
        "interrupted");
    assert_int_equal(count(env, "SELECT count(*) FROM convoy.audit WHERE migration = 'si' AND "
                                "action = 'interrupt'"),
                     1);
    assert_int_equal(count(env, "SELECT count(*) FROM pg_attribute WHERE attrelid = "
                                "'si'::regclass AND attname = 'note'"),
                     0);
    assert_true(harness_exec(blocker, "COMMIT"));
    PQfinish(blocker);
    {
        convoy_result_t r = itest_convoy(env, args);
        assert_int_equal(r.rc, CONVOY_EXIT_OK);
    }
}

static void
test_sigint_during_cic(void **state)
{
    itest_env_t *env = *state;
    const char *path;
    const char *args[] = {"apply", NULL, NULL};
    PGconn *blocker;
    pid_t pid;
    int rc;
    int64_t t0, dt;

    itest_exec(env->conn, "CREATE TABLE sc (id bigint PRIMARY KEY, v int);"
                          "INSERT INTO sc SELECT g, g FROM generate_series(1, 1000) g;");
    path = itest_write_migration(env, "sc.sql", "CREATE INDEX sc_v_idx ON sc (v);\n");
    args[1] = path;
    /* an open transaction with a snapshot makes CREATE INDEX CONCURRENTLY wait */
    blocker = harness_connect(env->pg);
    assert_true(harness_exec(blocker, "BEGIN ISOLATION LEVEL REPEATABLE READ") &&
                harness_exec(blocker, "SELECT count(*) FROM other"));
    pid = itest_convoy_spawn(env, args, "sc_apply");
    assert_true(harness_poll_sql(env->conn,
                                 "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE "
                                 "'CREATE INDEX CONCURRENTLY%' AND wait_event_type = 'Lock')",
                                 30000));
    t0 = harness_now_ms();
    kill(pid, SIGINT);
    rc = harness_wait(pid, 10000);
    dt = harness_now_ms() - t0;
    itest_spawn_output(env, "sc_apply");
    fprintf(stderr, "sigint during CIC: exit %d after %lld ms\n", rc, (long long)dt);
    assert_int_equal(rc, CONVOY_EXIT_ABORTED);
    assert_true(dt < 1000);
    assert_string_equal(
        itest_text(env->conn, "SELECT status FROM convoy.migrations WHERE name = 'sc'"),
        "interrupted");
    assert_int_equal(count(env, "SELECT count(*) FROM convoy.audit WHERE migration = 'sc' AND "
                                "action = 'interrupt'"),
                     1);
    /* no CIC is left running */
    assert_int_equal(count(env, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                                "'CREATE INDEX CONCURRENTLY%' AND state = 'active'"),
                     0);
    assert_true(harness_exec(blocker, "COMMIT"));
    PQfinish(blocker);
    {
        convoy_result_t r = itest_convoy(env, args);
        assert_int_equal(r.rc, CONVOY_EXIT_OK);
    }
    assert_int_equal(count(env, "SELECT count(*) FROM pg_index WHERE indexrelid = "
                                "'sc_v_idx'::regclass AND indisvalid"),
                     1);
}

/*
 * SIGINT while two backfill sessions each have a long batch out: both statements are
 * cancelled, convoy exits within 1 s, the migration is `interrupted`, and a rerun resumes
 * both ranges to a correct result.
 */
static void
test_sigint_during_parallel_backfill(void **state)
{
    itest_env_t *env = *state;
    const char *args[] = {"apply", NULL, NULL};
    pid_t pid;
    int rc;
    int64_t t0, dt;

    itest_exec(env->conn, "CREATE TABLE sp (id bigint PRIMARY KEY, v int NOT NULL);"
                          "INSERT INTO sp SELECT g, g FROM generate_series(1, 400000) g;"
                          "ANALYZE sp");
    args[1] = itest_write_migration(env, "sp.sql",
                                    "-- convoy:backfill-workers 2\n"
                                    "-- convoy:batch-target 2s\n"
                                    "-- convoy:backfill w = v * 3\n"
                                    "ALTER TABLE sp ADD COLUMN w bigint;\n");
    pid = itest_convoy_spawn(env, args, "sp_apply");
    if (!harness_poll_sql(env->conn,
                          "SELECT count(*) >= 2 FROM pg_stat_activity WHERE application_name = "
                          "'convoy' AND state = 'active' AND query LIKE '%convoy backfill%'",
                          60000)) {
        kill(pid, SIGKILL);
        harness_wait(pid, 10000);
        itest_spawn_output(env, "sp_apply");
        fail_msg("the two backfill sessions never had a batch out at the same time");
    }
    t0 = harness_now_ms();
    kill(pid, SIGINT);
    rc = harness_wait(pid, 10000);
    dt = harness_now_ms() - t0;
    itest_spawn_output(env, "sp_apply");
    fprintf(stderr, "sigint during a parallel backfill: exit %d after %lld ms\n", rc,
            (long long)dt);
    assert_int_equal(rc, CONVOY_EXIT_ABORTED);
    assert_true(dt < 1000);
    assert_string_equal(
        itest_text(env->conn, "SELECT status FROM convoy.migrations WHERE name = 'sp'"),
        "interrupted");
    assert_true(itest_wait_no_convoy_backends(env->conn, 5000));
    assert_true(count(env, "SELECT count(*) FROM sp WHERE w IS NULL") > 0);
    {
        convoy_result_t r = itest_convoy(env, args);
        assert_int_equal(r.rc, CONVOY_EXIT_OK);
    }
    assert_int_equal(count(env, "SELECT count(*) FROM sp WHERE w IS DISTINCT FROM v::bigint * 3"),
                     0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failing_expression_keeps_writes),
        cmocka_unit_test(test_sigint_during_parallel_backfill),
        cmocka_unit_test(test_index_name_of_another_table),
        cmocka_unit_test(test_not_null_on_violating_data),
        cmocka_unit_test(test_violation_at_validate),
        cmocka_unit_test(test_sigint_during_lock_retries),
        cmocka_unit_test(test_sigint_during_cic),
    };
    itest_init();
    return cmocka_run_group_tests(tests, itest_setup, itest_teardown);
}
