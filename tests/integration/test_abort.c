/* test_abort.c: convoy abort stops a backfill at a safe point; apply resumes and stays correct. */
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

static void
test_abort_then_resume(void **state)
{
    itest_env_t *env = *state;
    const char *path;
    pid_t pid;
    int wstatus = 0;
    convoy_result_t r;
    char *status;

    itest_exec(env->conn, "CREATE TABLE big (id bigint PRIMARY KEY, v int NOT NULL);"
                          "INSERT INTO big SELECT g, g FROM generate_series(1, 300000) g;"
                          "ANALYZE big;");
    path = itest_write_migration(env, "abort_me.sql",
                                 "-- convoy:name abort_me\n"
                                 "-- convoy:batch-target 20ms\n"
                                 "-- convoy:backfill w = v * 3\n"
                                 "ALTER TABLE big ADD COLUMN w bigint;\n");
    {
        const char *args[] = {"apply", path, NULL};
        pid = itest_convoy_spawn(env, args, "abort_apply");
    }
    /* wait until the backfill has made progress, then ask it to stop */
    assert_true(harness_poll_sql(env->conn,
                                 "SELECT coalesce((SELECT rows_done > 20000 FROM convoy.backfill "
                                 "WHERE migration = 'abort_me'), false)",
                                 60000));
    {
        const char *args[] = {"abort", "abort_me", NULL};
        r = itest_convoy(env, args);
        assert_int_equal(r.rc, CONVOY_EXIT_OK);
    }
    assert_int_equal(waitpid(pid, &wstatus, 0), pid);
    assert_true(WIFEXITED(wstatus));
    assert_int_equal(WEXITSTATUS(wstatus), CONVOY_EXIT_ABORTED);
    status = itest_text(env->conn, "SELECT status FROM convoy.migrations WHERE name = 'abort_me'");
    assert_non_null(status);
    assert_string_equal(status, "aborted");
    /* undone: the sync trigger; kept: the column and the values backfilled so far */
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM pg_trigger WHERE tgrelid = "
                                          "'big'::regclass AND NOT tgisinternal"),
                     0);
    assert_true(itest_int(env->conn, "SELECT count(*) FROM big WHERE w IS NOT NULL") > 0);
    assert_true(itest_int(env->conn, "SELECT count(*) FROM big WHERE w IS NULL") > 0);

    /* the old app keeps writing while nobody drives the migration ... */
    itest_exec(env->conn, "UPDATE big SET v = v + 1 WHERE id % 1000 = 0");
    /* ... and a resumed apply reinstalls the trigger and finishes correctly */
    {
        const char *args[] = {"apply", path, NULL};
        r = itest_convoy(env, args);
        assert_int_equal(r.rc, CONVOY_EXIT_OK);
    }
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM big WHERE w IS NULL"), 0);
    /* rows updated after they were backfilled are stale by design until the old app is gone;
     * rows never backfilled before the abort must match exactly */
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM big WHERE id % 1000 <> 0 AND "
                                          "w <> v * 3"),
                     0);
    status = itest_text(env->conn, "SELECT status FROM convoy.migrations WHERE name = 'abort_me'");
    assert_string_equal(status, "done");
    /* the sync trigger (step 2) was installed twice: before the first backfill and on resume */
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM convoy.audit WHERE migration = "
                                          "'abort_me' AND step = 2 AND outcome = 'done'"),
                     2);
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM convoy.audit WHERE migration = "
                                          "'abort_me' AND action = 'abort'"),
                     1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_abort_then_resume),
    };
    itest_init();
    return cmocka_run_group_tests(tests, itest_setup, itest_teardown);
}
