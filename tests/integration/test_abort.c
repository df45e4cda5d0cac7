/*
 * test_abort.c: convoy abort during a backfill.
 *  - abort -> the app updates source columns -> resume, three times at different points:
 *    every row ends equal to the backfill expression (issue 5, 1.2);
 *  - abort while a session sits idle in a transaction on the table: the cleanup's DROP
 *    TRIGGER goes through lock_timeout + retries, so no reader or writer waits longer than
 *    lock_timeout + 100 ms, and the abort completes once the blocker ends (1.1).
 */
#include "itest.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

#define ROWS            600000
#define LOCK_TIMEOUT_MS 50

static const char migration[] =
    "-- convoy:name abort_me\n"
    "-- convoy:batch-target 10ms\n"
    "-- convoy:backfill score = val * 2\n"
    "ALTER TABLE t ADD COLUMN score bigint DEFAULT (1000000000 + random() * 1000)::bigint "
    "NOT NULL;\n";

/* the same in three sessions side by side: each range stops and resumes on its own */
static const char migration_workers[] =
    "-- convoy:name abort_me\n"
    "-- convoy:batch-target 10ms\n"
    "-- convoy:backfill-workers 3\n"
    "-- convoy:backfill score = val * 2\n"
    "ALTER TABLE t ADD COLUMN score bigint DEFAULT (1000000000 + random() * 1000)::bigint "
    "NOT NULL;\n";

static void
make_table(itest_env_t *env)
{
    itest_exec(env->conn, "DROP TABLE IF EXISTS t; DROP SCHEMA IF EXISTS convoy CASCADE;"
                          "CREATE TABLE t (id bigint PRIMARY KEY, val int NOT NULL);"
                          "INSERT INTO t SELECT g, g FROM generate_series(1, 600000) g;"
                          "ANALYZE t;");
}

/* Waits until step `n` is running with more than `rows` covered, then aborts. */
static void
abort_at(itest_env_t *env, pid_t pid, int n, int rows)
{
    char sql[512];
    int wstatus = 0;
    convoy_result_t r;

    snprintf(sql, sizeof(sql),
             "SELECT coalesce((SELECT s.status = 'running' AND b.rows_done > %d FROM "
             "convoy.steps s JOIN convoy.backfill b ON b.migration = s.migration AND b.step = s.n "
             "WHERE s.migration = 'abort_me' AND s.n = %d), false)",
             rows, n);
    assert_true(harness_poll_sql(env->conn, sql, 60000));
    {
        const char *args[] = {"abort", "abort_me", NULL};
        r = itest_convoy(env, args);
        assert_int_equal(r.rc, CONVOY_EXIT_OK);
    }
    assert_int_equal(waitpid(pid, &wstatus, 0), pid);
    assert_true(WIFEXITED(wstatus));
    assert_int_equal(WEXITSTATUS(wstatus), CONVOY_EXIT_ABORTED);
    assert_string_equal(
        itest_text(env->conn, "SELECT status FROM convoy.migrations WHERE name = 'abort_me'"),
        "aborted");
    /* abort removed the sync trigger: nothing convoy installed is left on t */
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM pg_trigger WHERE tgrelid = "
                                          "'t'::regclass AND NOT tgisinternal"),
                     0);
}

static void
abort_update_resume_exact(itest_env_t *env, const char *text)
{
    const char *path;
    /* the fill pass (step 3), the catch-up pass (step 5), and the catch-up again */
    /* the catch-up reads in large block ranges and is quick: any progress is a point */
    const int points[3][2] = {{3, 30000}, {5, 0}, {5, 0}};

    make_table(env);
    path = itest_write_migration(env, "abort_me.sql", text);
    for (int i = 0; i < 3; i++) {
        const char *args[] = {"apply", path, NULL};
        pid_t pid = itest_convoy_spawn(env, args, "abort_apply");
        char upd[256];
        abort_at(env, pid, points[i][0], points[i][1]);
        /* the old app changes source values of rows already backfilled and not yet */
        snprintf(upd, sizeof(upd), "UPDATE t SET val = val + %d WHERE id %% 97 = %d", i + 1, i);
        itest_exec(env->conn, upd);
    }
    {
        const char *args[] = {"apply", path, NULL};
        convoy_result_t r = itest_convoy(env, args);
        assert_int_equal(r.rc, CONVOY_EXIT_OK);
    }
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM t WHERE score IS DISTINCT FROM "
                                          "val * 2"),
                     0);
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM pg_trigger WHERE tgrelid = "
                                          "'t'::regclass AND NOT tgisinternal"),
                     0);
    /* every transition is in the audit log: 3 abort requests, 3 aborts, 3 resumes */
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM convoy.audit WHERE migration = "
                                          "'abort_me' AND action IN ('abort_request', "
                                          "'abort_done', 'resume')"),
                     9);
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM convoy.audit WHERE migration = "
                                          "'abort_me' AND action = 'complete'"),
                     1);
}

static void
test_abort_update_resume_exact(void **state)
{
    abort_update_resume_exact(*state, migration);
}

static void
test_abort_update_resume_exact_workers(void **state)
{
    abort_update_resume_exact(*state, migration_workers);
}

typedef struct {
    const harness_pg_t *pg;
    atomic_bool stop;
    int64_t ops, errors, max_us;
} prober_t;

/* Reads and writes t, one statement at a time, recording the slowest. */
static void *
prober_main(void *arg)
{
    prober_t *p = arg;
    PGconn *c = harness_connect(p->pg);
    uint64_t rng = 42;

    while (!atomic_load(&p->stop)) {
        char sql[128];
        int64_t t0 = harness_now_us(), dt;
        unsigned long long id = itest_rand(&rng) % ROWS + 1;
        PGresult *res;
        snprintf(sql, sizeof(sql),
                 (p->ops % 2) ? "UPDATE t SET val = val WHERE id = %llu"
                              : "SELECT val FROM t WHERE id = %llu",
                 id);
        res = PQexec(c, sql);
        if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
            p->errors++;
        PQclear(res);
        dt = harness_now_us() - t0;
        if (dt > p->max_us)
            p->max_us = dt;
        p->ops++;
        harness_sleep_ms(2);
    }
    PQfinish(c);
    return NULL;
}

static void
test_abort_with_idle_blocker(void **state)
{
    itest_env_t *env = *state;
    const char *path;
    const char *args[] = {"apply", NULL, NULL};
    const char *abort_args[] = {"abort", "abort_me", NULL};
    pid_t pid, apid;
    PGconn *blocker;
    prober_t pr = {0};
    pthread_t th;
    int wstatus = 0, rc;

    make_table(env);
    path = itest_write_migration(env, "abort_me.sql", migration);
    args[1] = path;
    pid = itest_convoy_spawn(env, args, "blocked_apply");
    /* the catch-up pass runs: the sync trigger is installed */
    assert_true(harness_poll_sql(env->conn,
                                 "SELECT coalesce((SELECT status = 'running' FROM convoy.steps "
                                 "WHERE migration = 'abort_me' AND n = 5), false)",
                                 60000));
    blocker = harness_connect(env->pg);
    assert_true(harness_exec(blocker, "BEGIN") &&
                harness_exec(blocker, "SELECT count(*) FROM t WHERE id < 10"));
    pr.pg = env->pg;
    assert_int_equal(pthread_create(&th, NULL, prober_main, &pr), 0);
    apid = itest_convoy_spawn(env, abort_args, "abort_cmd");
    /* the driver stops at a batch boundary and tries to drop the trigger for 3 s */
    harness_sleep_ms(3000);
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM pg_trigger WHERE tgrelid = "
                                          "'t'::regclass AND NOT tgisinternal"),
                     1);
    assert_true(harness_exec(blocker, "COMMIT"));
    rc = harness_wait(apid, 30000);
    itest_spawn_output(env, "abort_cmd");
    assert_int_equal(rc, CONVOY_EXIT_OK);
    assert_int_equal(waitpid(pid, &wstatus, 0), pid);
    itest_spawn_output(env, "blocked_apply");
    assert_int_equal(WEXITSTATUS(wstatus), CONVOY_EXIT_ABORTED);
    atomic_store(&pr.stop, true);
    pthread_join(th, NULL);
    PQfinish(blocker);
    fprintf(stderr, "abort_with_idle_blocker: %lld probes, %lld errors, slowest %lld us\n",
            (long long)pr.ops, (long long)pr.errors, (long long)pr.max_us);
    assert_int_equal(pr.errors, 0);
    assert_true(pr.max_us <= (LOCK_TIMEOUT_MS + 100) * 1000);
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM pg_trigger WHERE tgrelid = "
                                          "'t'::regclass AND NOT tgisinternal"),
                     0);
    /* the retries named the blocker */
    assert_true(itest_contains_ci(itest_spawn_output(env, "blocked_apply"), "blocked by pid"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_abort_update_resume_exact),
        cmocka_unit_test(test_abort_update_resume_exact_workers),
        cmocka_unit_test(test_abort_with_idle_blocker),
    };
    itest_init();
    return cmocka_run_group_tests(tests, itest_setup, itest_teardown);
}
