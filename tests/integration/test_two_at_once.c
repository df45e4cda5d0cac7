/* test_two_at_once.c: two concurrent applies of one migration: one wins, the other exits 4. */
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

/* The line of text containing needle (case-insensitive), copied for printing. */
static void
print_line_with(const char *text, const char *needle)
{
    const char *p = strstr(text, needle);
    const char *start, *end;

    if (p == NULL)
        return;
    start = p;
    while (start > text && start[-1] != '\n')
        start--;
    end = strchr(p, '\n');
    fprintf(stderr, "two_at_once: loser said: %.*s\n",
            (int)(end != NULL ? end - start : (ptrdiff_t)strlen(start)), start);
}

static void
test_two_at_once(void **state)
{
    itest_env_t *env = *state;
    const char *args[3] = {"apply", NULL, NULL};
    char *path, *err_a, *err_b, *status;
    const char *loser_err;
    pid_t a, b;
    int rc_a, rc_b;

    itest_exec(env->conn, "CREATE TABLE t (id bigint PRIMARY KEY, v int NOT NULL);"
                          "INSERT INTO t SELECT g, g % 1000 FROM generate_series(1, 500000) g;"
                          "ANALYZE t");
    path = itest_write_migration(env, "two_at_once.sql",
                                 "-- convoy:name two_at_once\n"
                                 "-- convoy:backfill doubled = v * 2\n"
                                 "-- convoy:batch-target 50ms\n"
                                 "ALTER TABLE t ADD COLUMN doubled bigint;\n");
    args[1] = path;

    a = itest_convoy_spawn(env, args, "a");
    b = itest_convoy_spawn(env, args, "b");
    rc_a = harness_wait(a, ITEST_CONVOY_TIMEOUT_MS);
    rc_b = harness_wait(b, ITEST_CONVOY_TIMEOUT_MS);
    if (rc_a < 0)
        kill(a, SIGKILL);
    if (rc_b < 0)
        kill(b, SIGKILL);
    fprintf(stderr, "two_at_once: a exited %d, b exited %d\n", rc_a, rc_b);
    err_a = itest_spawn_output(env, "a");
    err_b = itest_spawn_output(env, "b");

    if (!((rc_a == CONVOY_EXIT_OK && rc_b == CONVOY_EXIT_LEASE_HELD) ||
          (rc_b == CONVOY_EXIT_OK && rc_a == CONVOY_EXIT_LEASE_HELD)))
        fail_msg("expected one exit 0 and one exit 4, got %d and %d", rc_a, rc_b);
    loser_err = rc_a == CONVOY_EXIT_LEASE_HELD ? err_a : err_b;
    if (strstr(loser_err, "held by") == NULL)
        fail_msg("the loser's stderr does not say the lease is \"held by\" someone");
    print_line_with(loser_err, "held by");
    /* The holder's identity names the winning process. */
    if (!itest_contains_number(loser_err, rc_a == CONVOY_EXIT_OK ? a : b))
        fail_msg("the loser's message does not name the holder (pid %d)",
                 (int)(rc_a == CONVOY_EXIT_OK ? a : b));

    assert_int_equal(
        itest_int(env->conn, "SELECT count(*) FROM t WHERE doubled IS DISTINCT FROM v::bigint * 2"),
        0);
    status =
        itest_text(env->conn, "SELECT status FROM convoy.migrations WHERE name = 'two_at_once'");
    assert_non_null(status);
    assert_string_equal(status, "done");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_at_once),
    };

    itest_init();
    return cmocka_run_group_tests(tests, itest_setup, itest_teardown);
}
