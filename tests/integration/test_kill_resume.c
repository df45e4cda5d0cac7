/*
 * test_kill_resume.c: a backfill SIGKILLed three times resumes and touches every row exactly
 * once: in one session, and with -- convoy:backfill-workers 3 (three sessions, each on its
 * own key range, each range resumed from its own checkpoint element).
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

#define ROWS 500000

typedef struct {
    PGconn *conn;
    pid_t pid;
    int64_t target;   /* rows with doubled set that we wait for */
    int64_t progress; /* last observed */
    bool exited;      /* convoy exited before reaching the target */
    int exit_rc;
    bool saw_convoy_backend;
    int64_t max_backends; /* the most convoy sessions seen at once */
} progress_t;

/* Rows already backfilled; 0 while the column does not exist yet. */
static int64_t
rows_backfilled(PGconn *c)
{
    int64_t have_col = 0, n = 0;

    if (!harness_query_int(c,
                           "SELECT count(*) FROM pg_attribute WHERE attrelid = 't'::regclass "
                           "AND attname = 'doubled' AND NOT attisdropped",
                           &have_col) ||
        have_col == 0)
        return 0;
    if (!harness_query_int(c, "SELECT count(*) FROM t WHERE doubled IS NOT NULL", &n))
        return 0;
    return n;
}

static bool
reached_target(void *arg)
{
    progress_t *p = arg;
    int64_t backends = 0;
    int rc;

    if (harness_query_int(p->conn,
                          "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'convoy'",
                          &backends) &&
        backends > 0)
        p->saw_convoy_backend = true;
    if (backends > p->max_backends)
        p->max_backends = backends;
    p->progress = rows_backfilled(p->conn);
    if (p->progress >= p->target)
        return true;
    rc = harness_wait(p->pid, 0);
    if (rc >= 0) {
        p->exited = true;
        p->exit_rc = rc;
        return true;
    }
    return false;
}

static void
kill_resume(itest_env_t *env, int workers)
{
    static const int percents[] = {15, 45, 75};
    const char *args[3] = {"apply", NULL, NULL};
    progress_t p = {.conn = env->conn};
    char *path, *status, name[32], file[64], sql[128];
    convoy_result_t r;
    int rc;

    itest_exec(env->conn, "DROP TABLE IF EXISTS t; DROP FUNCTION IF EXISTS count_backfill()");
    itest_exec(env->conn,
               "CREATE TABLE t (id bigint PRIMARY KEY, v int NOT NULL, "
               "touched int NOT NULL DEFAULT 0);"
               "INSERT INTO t (id, v) SELECT g, (g::bigint * 7919) % 100003 "
               "FROM generate_series(1, 500000) g;"
               /* Counts, per row, how often `doubled` went from NULL to a value. It reads the
                * column through to_jsonb so that it can exist before the column does. */
               "CREATE FUNCTION count_backfill() RETURNS trigger LANGUAGE plpgsql AS $$\n"
               "BEGIN\n"
               "  IF (to_jsonb(OLD) ->> 'doubled') IS NULL\n"
               "     AND (to_jsonb(NEW) ->> 'doubled') IS NOT NULL THEN\n"
               "    NEW.touched := NEW.touched + 1;\n"
               "  END IF;\n"
               "  RETURN NEW;\n"
               "END $$;"
               "CREATE TRIGGER t_count_backfill BEFORE UPDATE ON t "
               "FOR EACH ROW EXECUTE FUNCTION count_backfill();"
               "ANALYZE t");
    snprintf(name, sizeof(name), "kill_resume_%d", workers);
    snprintf(file, sizeof(file), "%s.sql", name);
    {
        char text[512];
        snprintf(text, sizeof(text),
                 "-- convoy:name %s\n"
                 "-- convoy:backfill doubled = v * 2\n"
                 "-- convoy:batch-target 50ms\n"
                 "-- convoy:backfill-workers %d\n"
                 "ALTER TABLE t ADD COLUMN doubled bigint;\n",
                 name, workers);
        path = itest_write_migration(env, file, text);
    }
    args[1] = path;

    for (size_t i = 0; i < sizeof(percents) / sizeof(percents[0]); i++) {
        char tag[32];
        int64_t before_kill;

        snprintf(tag, sizeof(tag), "w%d_run%zu", workers, i + 1);
        p.pid = itest_convoy_spawn(env, args, tag);
        p.target = (int64_t)ROWS * percents[i] / 100;
        p.exited = false;
        if (!harness_poll(reached_target, &p, 120000, 20)) {
            kill(p.pid, SIGKILL);
            harness_wait(p.pid, 10000);
            (void)itest_spawn_output(env, tag);
            fail_msg("backfill did not reach %d%% (%lld rows) within 120 s; at %lld", percents[i],
                     (long long)p.target, (long long)p.progress);
        }
        if (p.exited) {
            (void)itest_spawn_output(env, tag);
            fail_msg("convoy exited with %d at %lld rows, before the %d%% kill point", p.exit_rc,
                     (long long)p.progress, percents[i]);
        }
        before_kill = p.progress;
        assert_int_equal(kill(p.pid, SIGKILL), 0);
        rc = harness_wait(p.pid, 30000);
        assert_int_equal(rc, 128 + SIGKILL);
        /* Its backend may still be finishing a batch; resume only once it is gone. */
        if (!itest_wait_no_convoy_backends(env->conn, 60000))
            fail_msg("a backend with application_name 'convoy' is still there 60 s after kill");
        fprintf(stderr,
                "kill_resume: killed run %zu at >= %lld rows (%lld after its backend left)\n",
                i + 1, (long long)before_kill, (long long)rows_backfilled(env->conn));
        (void)itest_spawn_output(env, tag);
        if (rows_backfilled(env->conn) >= ROWS)
            fail_msg("the backfill finished before the %d%% kill: it is too fast to interrupt",
                     percents[i]);
    }
    assert_true(p.saw_convoy_backend); /* otherwise the waits above proved nothing */
    if (workers > 1)                   /* the sessions ran side by side: one per range */
        assert_true(p.max_backends >= workers);

    r = itest_convoy(env, args);
    assert_int_equal(r.rc, CONVOY_EXIT_OK);

    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM t"), ROWS);
    assert_int_equal(
        itest_int(env->conn, "SELECT count(*) FROM t WHERE doubled IS DISTINCT FROM v::bigint * 2"),
        0);
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM t WHERE touched <> 1"), 0);
    snprintf(sql, sizeof(sql), "SELECT status FROM convoy.migrations WHERE name = '%s'", name);
    status = itest_text(env->conn, sql);
    assert_non_null(status);
    assert_string_equal(status, "done");

    /* Re-running a finished migration is a no-op. */
    r = itest_convoy(env, args);
    assert_int_equal(r.rc, CONVOY_EXIT_OK);
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM t WHERE touched <> 1"), 0);
}

static void
test_kill_resume(void **state)
{
    kill_resume(*state, 1);
}

static void
test_kill_resume_workers(void **state)
{
    kill_resume(*state, 3);
}

/*
 * A session idle in a transaction holds a row lock in the second of two ranges: that range's
 * batches time out and retry (bounded, jittered) while the first range's session fills all
 * of its rows; once the blocker commits, the pass completes with every row right.
 */
static void
test_workers_row_lock(void **state)
{
    itest_env_t *env = *state;
    const char *args[3] = {"apply", NULL, NULL};
    PGconn *blocker;
    pid_t pid;
    int rc;

    /* the file's own UPDATE, which convoy runs in batches: nothing takes a table lock that a
     * row lock's ROW SHARE would block */
    itest_exec(env->conn, "DROP TABLE IF EXISTS t2;"
                          "CREATE TABLE t2 (id bigint PRIMARY KEY, v int NOT NULL, w int);"
                          "INSERT INTO t2 SELECT g, g % 1000 FROM generate_series(1, 200000) g;"
                          "ANALYZE t2");
    args[1] = itest_write_migration(env, "workers_lock.sql",
                                    "-- convoy:name workers_lock\n"
                                    "-- convoy:backfill-workers 2\n"
                                    "-- convoy:lock-timeout 50ms\n"
                                    "UPDATE t2 SET w = v + 1;\n");
    blocker = harness_connect(env->pg);
    assert_non_null(blocker);
    itest_exec(blocker, "BEGIN; SELECT * FROM t2 WHERE id = 150000 FOR UPDATE");
    pid = itest_convoy_spawn(env, args, "workers_lock");
    /* the first range (ids up to 100000) completes behind the blocker's back */
    if (!harness_poll_sql(env->conn,
                          "SELECT count(*) = 100000 FROM t2 WHERE id <= 100000 AND w IS NOT NULL",
                          60000)) {
        kill(pid, SIGKILL);
        harness_wait(pid, 10000);
        (void)itest_spawn_output(env, "workers_lock");
        fail_msg("the first range did not complete while the second waited on the row lock");
    }
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM t2 WHERE id = 150000 AND w IS "
                                          "NOT NULL"),
                     0);
    assert_int_equal(harness_wait(pid, 0), -1); /* still running: retrying, not failed */
    itest_exec(blocker, "COMMIT");
    PQfinish(blocker);
    rc = harness_wait(pid, 120000);
    {
        char *err = itest_spawn_output(env, "workers_lock");
        assert_int_equal(rc, 0);
        assert_non_null(strstr(err ? err : "", "waiting: batch hit a lock"));
    }
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM t2 WHERE w IS DISTINCT FROM v + 1"),
                     0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_resume),
        cmocka_unit_test(test_kill_resume_workers),
        cmocka_unit_test(test_workers_row_lock),
    };

    itest_init();
    return cmocka_run_group_tests(tests, itest_setup, itest_teardown);
}
