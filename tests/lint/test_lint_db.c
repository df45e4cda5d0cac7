/* test_lint_db.c: `convoy lint --db`: the rules read the live catalog (column types, NOT NULLs,
 * whether a table holds rows, the server's verdict on a type change). Real PostgreSQL. */
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

/* Lints sql against the test database; returns the first file's findings (kept by the arena:
 * the caller decrefs the root it gets back in *root). */
static json_t *
lint(itest_env_t *env, const char *name, const char *sql, json_t **root)
{
    const char *args[] = {"lint", "--format", "json", "--fail-on", "never", NULL, NULL};
    json_error_t e;
    convoy_result_t r;

    args[5] = itest_write_migration(env, name, sql);
    r = itest_convoy(env, args);
    assert_int_equal(r.rc, CONVOY_EXIT_OK);
    *root = json_loads(r.out, 0, &e);
    if (*root == NULL)
        fail_msg("not JSON (%s): %s", e.text, r.out);
    /* with a database, nothing is assumed */
    assert_int_equal(json_array_size(json_object_get(
                         json_array_get(json_object_get(*root, "files"), 0), "assumptions")),
                     0);
    return json_object_get(json_array_get(json_object_get(*root, "files"), 0), "findings");
}

static size_t
count_rule(json_t *findings, const char *rule)
{
    size_t n = 0, i;
    json_t *f;
    json_array_foreach(findings, i, f) n +=
        strcmp(json_string_value(json_object_get(f, "rule")), rule) == 0;
    return n;
}

static void
test_live_catalog(void **state)
{
    itest_env_t *env = *state;
    json_t *root, *f;

    itest_exec(env->conn,
               "CREATE TABLE members (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
               "email text NOT NULL, display_name text NOT NULL, status varchar(20) NOT NULL, "
               "score integer NOT NULL DEFAULT 0);"
               "INSERT INTO members (email, display_name, status) SELECT 'm' || g, 'M ' || g, "
               "'active' FROM generate_series(1, 500) g;"
               "CREATE TABLE waitlist (id bigint PRIMARY KEY, email text NOT NULL);"
               "ANALYZE members; ANALYZE waitlist");

    /* the server says a varchar widening does not rewrite: no finding */
    f = lint(env, "widen.sql", "ALTER TABLE members ALTER COLUMN status TYPE varchar(40);\n",
             &root);
    assert_int_equal(json_array_size(f), 0);
    json_decref(root);

    /* integer -> bigint rewrites: an error, from the server's verdict */
    f = lint(env, "int8.sql", "ALTER TABLE members ALTER COLUMN score TYPE bigint;\n", &root);
    assert_int_equal(count_rule(f, "type-change-rewrites"), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(f, 0), "severity")),
                        "error");
    json_decref(root);

    /* every other column of members is NOT NULL (the catalog says so) */
    f = lint(env, "nickname.sql", "ALTER TABLE members ADD COLUMN nickname text;\n", &root);
    assert_int_equal(count_rule(f, "nullable-required"), 1);
    json_decref(root);

    /* the seed's statement: a finding on a table with rows, none on an empty one */
    f = lint(env, "seed.sql",
             "ALTER TABLE members ADD COLUMN last_login timestamptz DEFAULT now() NOT NULL;\n",
             &root);
    assert_int_equal(json_array_size(f), 1);
    assert_int_equal(count_rule(f, "default-now-existing-rows"), 1);
    json_decref(root);
    f = lint(env, "seed_empty.sql",
             "ALTER TABLE waitlist ADD COLUMN last_login timestamptz DEFAULT now() NOT NULL;\n",
             &root);
    assert_int_equal(count_rule(f, "default-now-existing-rows"), 0);
    json_decref(root);

    /* SET NOT NULL on a column that already is: nothing to say */
    f = lint(env, "nn.sql", "ALTER TABLE members ALTER COLUMN email SET NOT NULL;\n", &root);
    assert_int_equal(count_rule(f, "set-not-null-scans"), 0);
    json_decref(root);

    /* an unknown table is a plan error with the live catalog */
    f = lint(env, "missing.sql", "ALTER TABLE no_such_table ADD COLUMN note text;\n", &root);
    assert_int_equal(count_rule(f, "plan-error"), 1);
    json_decref(root);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live_catalog),
    };
    itest_init();
    return cmocka_run_group_tests(tests, itest_setup, itest_teardown);
}
