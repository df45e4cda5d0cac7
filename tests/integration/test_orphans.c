/* test_orphans.c: adding a foreign key with orphan rows fails cleanly (exit 6), then succeeds. */
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

#define ORPHANS 37

static void
test_orphans(void **state)
{
    itest_env_t *env = *state;
    const char *args[3] = {"apply", NULL, NULL};
    char *path, *v;
    convoy_result_t r;

    itest_exec(env->conn,
               "CREATE TABLE parents (id int PRIMARY KEY);"
               "INSERT INTO parents SELECT g FROM generate_series(1, 100) g;"
               "CREATE TABLE children (id int PRIMARY KEY, parent_id int);"
               /* 9958 good rows, 5 NULL parents (allowed by a foreign key), 37 orphans */
               "INSERT INTO children SELECT g, g % 100 + 1 FROM generate_series(1, 9958) g;"
               "INSERT INTO children SELECT g, NULL FROM generate_series(9959, 9963) g;"
               "INSERT INTO children SELECT g, 1000 + g FROM generate_series(9964, 10000) g;"
               "ANALYZE parents; ANALYZE children");
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM children c WHERE NOT EXISTS "
                                          "(SELECT 1 FROM parents p WHERE p.id = c.parent_id) "
                                          "AND c.parent_id IS NOT NULL"),
                     ORPHANS);
    path = itest_write_migration(env, "children_fk.sql",
                                 "-- convoy:name children_fk\n"
                                 "ALTER TABLE children ADD CONSTRAINT children_parent_fk "
                                 "FOREIGN KEY (parent_id) REFERENCES parents(id);\n");
    args[1] = path;

    r = itest_convoy(env, args);
    assert_int_equal(r.rc, CONVOY_EXIT_PRECONDITION);
    if (!itest_contains_number(r.err, ORPHANS))
        fail_msg("stderr does not report the orphan count %d", ORPHANS);
    if (!itest_contains_ci(r.err, "orphan"))
        fail_msg("stderr does not mention \"orphan\"");
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM pg_constraint "
                                          "WHERE conname = 'children_parent_fk' AND convalidated"),
                     0);
    /* The data was not touched. */
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM children"), 10000);

    itest_exec(env->conn, "DELETE FROM children WHERE parent_id > 100");
    r = itest_convoy(env, args);
    assert_int_equal(r.rc, CONVOY_EXIT_OK);
    v = itest_text(env->conn, "SELECT convalidated::text FROM pg_constraint "
                              "WHERE conname = 'children_parent_fk' "
                              "AND conrelid = 'children'::regclass AND contype = 'f'");
    if (v == NULL)
        fail_msg("constraint children_parent_fk does not exist after the second apply");
    assert_string_equal(v, "true");
    v = itest_text(env->conn, "SELECT status FROM convoy.migrations WHERE name = 'children_fk'");
    assert_non_null(v);
    assert_string_equal(v, "done");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orphans),
    };

    itest_init();
    return cmocka_run_group_tests(tests, itest_setup, itest_teardown);
}
