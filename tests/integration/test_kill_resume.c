/* test_kill_resume.c: a backfill SIGKILLed three times resumes and touches every row exactly once.
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
test_kill_resume(void **state)
{
    itest_env_t *env = *state;
    static const int percents[] = {15, 45, 75};
    const char *args[3] = {"apply", NULL, NULL};
    progress_t p = {.conn = env->conn};
    char *path, *status;
    convoy_result_t r;
    int rc;

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
    path = itest_write_migration(env, "kill_resume.sql",
                                 "-- convoy:name kill_resume\n"
                                 "-- convoy:backfill doubled = v * 2\n"
                                 "-- convoy:batch-target 50ms\n"
                                 "ALTER TABLE t ADD COLUMN doubled bigint;\n");
    args[1] = path;

    for (size_t i = 0; i < sizeof(percents) / sizeof(percents[0]); i++) {
        char tag[32];
        int64_t before_kill;

        snprintf(tag, sizeof(tag), "run%zu", i + 1);
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

    r = itest_convoy(env, args);
    assert_int_equal(r.rc, CONVOY_EXIT_OK);

    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM t"), ROWS);
    assert_int_equal(
        itest_int(env->conn, "SELECT count(*) FROM t WHERE doubled IS DISTINCT FROM v::bigint * 2"),
        0);
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM t WHERE touched <> 1"), 0);
    status =
        itest_text(env->conn, "SELECT status FROM convoy.migrations WHERE name = 'kill_resume'");
    assert_non_null(status);
    assert_string_equal(status, "done");

    /* Re-running a finished migration is a no-op. */
    r = itest_convoy(env, args);
    assert_int_equal(r.rc, CONVOY_EXIT_OK);
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM t WHERE touched <> 1"), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_resume),
    };

    itest_init();
    return cmocka_run_group_tests(tests, itest_setup, itest_teardown);
}
