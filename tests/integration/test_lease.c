/*
 * test_lease.c: one driver per migration, fenced (issue 5, 1.4).
 *  - different database roles: a holder blocked on a lock keeps its lease against a
 *    contender running as another role;
 *  - a stalled holder (SIGSTOP) keeps its lease while its session lives; once its session
 *    is gone the next driver gets a new token, tokens never repeat, and the stalled
 *    process, resumed, writes nothing more;
 *  - a step that runs far longer than any renewal interval (a CIC waiting on a snapshot)
 *    keeps its lease: liveness is the driver's session, not a clock.
 */
#include "itest.h"

#include <signal.h>
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

/* env with --db for another role (conninfo: a later keyword wins) */
static itest_env_t
as_role(const itest_env_t *env, const char *role)
{
    itest_env_t e = *env;
    size_t n = strlen(env->db_arg) + strlen(role) + 16;
    char *s = malloc(n);

    snprintf(s, n, "%s user=%s", env->db_arg, role);
    e.db_arg = itest_keep(s);
    return e;
}

static void
test_roles(void **state)
{
    itest_env_t *env = *state;
    itest_env_t a_env, b_env;
    const char *args[] = {"apply", NULL, NULL};
    PGconn *blocker;
    pid_t a;
    convoy_result_t rb;
    int rc;

    itest_exec(env->conn,
               "CREATE ROLE mig LOGIN; CREATE ROLE mig2 LOGIN IN ROLE mig;"
               "CREATE TABLE lr (id bigint PRIMARY KEY, v int); ALTER TABLE lr OWNER TO mig;"
               "INSERT INTO lr SELECT g, g FROM generate_series(1, 1000) g;");
    /* the convoy schema, created by a superuser and shared with the migration role */
    {
        const char *warm[] = {
            "apply", itest_write_migration(env, "warm.sql", "CREATE TABLE warm (id int);\n"), NULL};
        assert_int_equal(itest_convoy(env, warm).rc, CONVOY_EXIT_OK);
    }
    itest_exec(env->conn, "GRANT USAGE, CREATE ON SCHEMA convoy TO mig;"
                          "GRANT ALL ON ALL TABLES IN SCHEMA convoy TO mig;"
                          "GRANT ALL ON ALL SEQUENCES IN SCHEMA convoy TO mig;");
    args[1] = itest_write_migration(env, "lr.sql", "ALTER TABLE lr ADD COLUMN c int;\n");
    a_env = as_role(env, "mig2");
    b_env = as_role(env, "mig");
    blocker = harness_connect(env->pg);
    assert_true(harness_exec(blocker, "BEGIN") && harness_exec(blocker, "SELECT count(*) FROM lr"));
    a = itest_convoy_spawn(&a_env, args, "lr_a");
    assert_true(harness_poll_sql(env->conn,
                                 "SELECT coalesce((SELECT status = 'running' FROM "
                                 "convoy.migrations WHERE name = 'lr'), false)",
                                 30000));
    harness_sleep_ms(300);
    rb = itest_convoy(&b_env, args);
    assert_int_equal(rb.rc, CONVOY_EXIT_LEASE_HELD);
    assert_true(itest_contains_ci(rb.err, "held by"));
    assert_true(harness_exec(blocker, "COMMIT"));
    PQfinish(blocker);
    rc = harness_wait(a, 60000);
    itest_spawn_output(env, "lr_a");
    assert_int_equal(rc, CONVOY_EXIT_OK);
    /* every fenced write came from A: one token in the whole history */
    assert_int_equal(itest_int(env->conn, "SELECT count(DISTINCT token) FROM convoy.audit WHERE "
                                          "migration = 'lr' AND token IS NOT NULL"),
                     1);
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM convoy.audit WHERE migration = "
                                          "'lr' AND db_user = 'mig'"),
                     0);
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM convoy.audit WHERE migration = "
                                          "'lr' AND outcome = 'failed'"),
                     0);
    assert_string_equal(
        itest_text(env->conn, "SELECT status FROM convoy.migrations WHERE name = 'lr'"), "done");
}

static const char slow[] = "-- convoy:name ls\n"
                           "-- convoy:batch-target 20ms\n"
                           "-- convoy:backfill d = v * 2\n"
                           "ALTER TABLE ls ADD COLUMN d bigint;\n";

static void
wait_progress(itest_env_t *env, int rows)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT coalesce((SELECT max(rows_done) > %d FROM convoy.backfill WHERE migration = "
             "'ls'), false)",
             rows);
    assert_true(harness_poll_sql(env->conn, sql, 60000));
}

static void
test_stalled_holder_and_tokens(void **state)
{
    itest_env_t *env = *state;
    const char *args[] = {"apply", NULL, NULL};
    pid_t a, b;
    convoy_result_t r;
    int rc;
    int64_t a_token, max_id_b;

    itest_exec(env->conn, "CREATE TABLE ls (id bigint PRIMARY KEY, v int NOT NULL);"
                          "INSERT INTO ls SELECT g, g FROM generate_series(1, 300000) g;"
                          "ANALYZE ls;");
    args[1] = itest_write_migration(env, "ls.sql", slow);
    a = itest_convoy_spawn(env, args, "ls_a");
    wait_progress(env, 10000);
    kill(a, SIGSTOP);
    a_token = itest_int(env->conn, "SELECT token FROM convoy.lease WHERE migration = 'ls'");
    /* A's session is alive: nobody takes over, however long A stalls */
    r = itest_convoy(env, args);
    assert_int_equal(r.rc, CONVOY_EXIT_LEASE_HELD);
    /* A's session ends (the network died, an operator terminated it) */
    itest_exec(env->conn, "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = "
                          "'advisory' AND classid = 1668247158 AND granted");
    assert_true(harness_poll_sql(env->conn,
                                 "SELECT NOT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = "
                                 "'advisory' AND classid = 1668247158)",
                                 10000));
    b = itest_convoy_spawn(env, args, "ls_b");
    assert_true(harness_poll_sql(env->conn,
                                 "SELECT coalesce((SELECT token > (SELECT min(token) FROM "
                                 "convoy.audit WHERE migration = 'ls') FROM convoy.lease WHERE "
                                 "migration = 'ls' AND released_at IS NULL), false)",
                                 30000));
    harness_sleep_ms(200);
    kill(b, SIGINT);
    rc = harness_wait(b, 10000);
    itest_spawn_output(env, "ls_b");
    assert_int_equal(rc, CONVOY_EXIT_ABORTED);
    max_id_b = itest_int(env->conn, "SELECT max(id) FROM convoy.audit WHERE migration = 'ls'");
    /* C: a new token, never one seen before */
    r = itest_convoy(env, args);
    assert_int_equal(r.rc, CONVOY_EXIT_OK);
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM (SELECT token FROM convoy.audit "
                                          "WHERE migration = 'ls' AND token IS NOT NULL GROUP BY "
                                          "token) t"),
                     3);
    /* A wakes up: its session is gone, it writes nothing and exits non-zero */
    kill(a, SIGCONT);
    rc = harness_wait(a, 30000);
    itest_spawn_output(env, "ls_a");
    assert_true(rc != CONVOY_EXIT_OK);
    {
        char sql[256];
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM convoy.audit WHERE migration = 'ls' AND token = %lld AND "
                 "id > %lld",
                 (long long)a_token, (long long)max_id_b);
        assert_int_equal(itest_int(env->conn, sql), 0);
    }
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM ls WHERE d IS DISTINCT FROM v * 2"),
                     0);
    assert_string_equal(
        itest_text(env->conn, "SELECT status FROM convoy.migrations WHERE name = 'ls'"), "done");
}

static void
test_long_step_keeps_lease(void **state)
{
    itest_env_t *env = *state;
    const char *args[] = {"apply", NULL, NULL};
    PGconn *snap;
    pid_t a;
    int rc;

    itest_exec(env->conn, "CREATE TABLE ll (id bigint PRIMARY KEY, v int);"
                          "INSERT INTO ll SELECT g, g FROM generate_series(1, 1000) g;");
    args[1] = itest_write_migration(env, "ll.sql", "CREATE INDEX ll_v_idx ON ll (v);\n");
    snap = harness_connect(env->pg);
    assert_true(harness_exec(snap, "BEGIN ISOLATION LEVEL REPEATABLE READ") &&
                harness_exec(snap, "SELECT count(*) FROM ls"));
    a = itest_convoy_spawn(env, args, "ll_a");
    assert_true(harness_poll_sql(env->conn,
                                 "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE "
                                 "'CREATE INDEX CONCURRENTLY%' AND wait_event_type = 'Lock')",
                                 30000));
    /* the CIC waits for 4 s; contenders keep finding the lease held */
    for (int i = 0; i < 4; i++) {
        convoy_result_t r = itest_convoy(env, args);
        assert_int_equal(r.rc, CONVOY_EXIT_LEASE_HELD);
        harness_sleep_ms(1000);
    }
    assert_true(harness_exec(snap, "COMMIT"));
    PQfinish(snap);
    rc = harness_wait(a, 60000);
    itest_spawn_output(env, "ll_a");
    assert_int_equal(rc, CONVOY_EXIT_OK);
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM pg_index WHERE indexrelid = "
                                          "'ll_v_idx'::regclass AND indisvalid"),
                     1);
    assert_int_equal(itest_int(env->conn, "SELECT count(DISTINCT token) FROM convoy.audit WHERE "
                                          "migration = 'll' AND token IS NOT NULL"),
                     1);
}

/* kill -9 during a long CIC: the rerun takes over at once, drops the INVALID index, rebuilds. */
static void
test_killed_during_cic_rerun(void **state)
{
    itest_env_t *env = *state;
    const char *args[] = {"apply", NULL, NULL};
    PGconn *snap;
    pid_t a, b;
    int rc;
    char *err;

    itest_exec(env->conn, "CREATE TABLE lk (id bigint PRIMARY KEY, v int);"
                          "INSERT INTO lk SELECT g, g FROM generate_series(1, 1000) g;");
    args[1] = itest_write_migration(env, "lk.sql", "CREATE INDEX lk_v_idx ON lk (v);\n");
    snap = harness_connect(env->pg);
    assert_true(harness_exec(snap, "BEGIN ISOLATION LEVEL REPEATABLE READ") &&
                harness_exec(snap, "SELECT count(*) FROM ls"));
    a = itest_convoy_spawn(env, args, "lk_a");
    assert_true(harness_poll_sql(env->conn,
                                 "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE "
                                 "'CREATE INDEX CONCURRENTLY%' AND wait_event_type = 'Lock')",
                                 30000));
    kill(a, SIGKILL);
    harness_wait(a, 5000);
    b = itest_convoy_spawn(env, args, "lk_b");
    harness_sleep_ms(2500);
    assert_true(harness_exec(snap, "COMMIT"));
    PQfinish(snap);
    rc = harness_wait(b, 90000);
    err = itest_spawn_output(env, "lk_b");
    assert_int_equal(rc, CONVOY_EXIT_OK);
    assert_false(itest_contains_ci(err, "being applied by another convoy process"));
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM pg_index WHERE indexrelid = "
                                          "'lk_v_idx'::regclass AND indisvalid"),
                     1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_stalled_holder_and_tokens),
        cmocka_unit_test(test_long_step_keeps_lease),
        cmocka_unit_test(test_killed_during_cic_rerun),
    };
    itest_init();
    return cmocka_run_group_tests(tests, itest_setup, itest_teardown);
}
