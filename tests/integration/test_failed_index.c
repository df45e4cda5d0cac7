/* test_failed_index.c: a unique index build that hits duplicates leaves no invalid index behind. */
#include "itest.h"

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

static void
test_failed_index(void **state)
{
    itest_env_t *env = *state;
    const char *args[3] = {"apply", NULL, NULL};
    char *path, *v;
    convoy_result_t r;

    itest_exec(env->conn,
               "CREATE TABLE users (id serial PRIMARY KEY, email text);"
               /* 10 addresses appear twice */
               "INSERT INTO users (email) SELECT 'user' || (g % 99990) || '@example.com' "
               "FROM generate_series(1, 100000) g;"
               "ANALYZE users");
    path = itest_write_migration(env, "users_email_key.sql",
                                 "-- convoy:name users_email_key\n"
                                 "CREATE UNIQUE INDEX users_email_key ON users (email);\n");
    args[1] = path;

    r = itest_convoy(env, args);
    assert_int_equal(r.rc, CONVOY_EXIT_PRECONDITION);
    if (!itest_contains_ci(r.err, "duplicate"))
        fail_msg("stderr does not mention \"duplicate\"");
    v = itest_text(env->conn, "SELECT string_agg(indexrelid::regclass::text || ' (ready='"
                              " || indisready || ', live=' || indislive || ')', ', ') "
                              "FROM pg_index WHERE NOT indisvalid");
    if (v != NULL)
        fail_msg("INVALID index(es) left behind: %s", v);
    v = itest_text(env->conn, "SELECT to_regclass('public.users_email_key')::text");
    if (v != NULL)
        fail_msg("index %s still exists after the failed build", v);

    /* Once the duplicates are gone the same migration succeeds. */
    itest_exec(env->conn, "DELETE FROM users a USING users b "
                          "WHERE a.email = b.email AND a.id > b.id");
    r = itest_convoy(env, args);
    assert_int_equal(r.rc, CONVOY_EXIT_OK);
    v = itest_text(env->conn, "SELECT (indisvalid AND indisunique)::text FROM pg_index "
                              "WHERE indexrelid = to_regclass('public.users_email_key')");
    if (v == NULL)
        fail_msg("index users_email_key does not exist after the second apply");
    assert_string_equal(v, "true");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failed_index),
    };

    itest_init();
    return cmocka_run_group_tests(tests, itest_setup, itest_teardown);
}
