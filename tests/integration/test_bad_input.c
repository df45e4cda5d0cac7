/* test_bad_input.c: malformed or invalid migrations fail with exit 1 and change nothing. */
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

typedef struct {
    const char *file;
    const char *text;
    int error_line; /* > 0: stderr must say "<file>:<line>:" */
} bad_case_t;

static const bad_case_t cases[] = {
    {"empty.sql", "", 0},
    {"not_sql.sql", "-- convoy:name not_sql\nhello world this is not sql\n", 2},
    {"unknown_directive.sql",
     "-- convoy:name unknown_directive\n"
     "-- convoy:frobnicate 1\n"
     "ALTER TABLE users ADD COLUMN a int;\n",
     2},
    {"missing_table.sql",
     "-- convoy:name missing_table\n"
     "ALTER TABLE no_such_table ADD COLUMN a int;\n",
     0},
    {"backfill_unknown_column.sql",
     "-- convoy:name backfill_unknown_column\n"
     "-- convoy:backfill no_such_column = 1\n"
     "ALTER TABLE users ADD COLUMN a int;\n",
     0},
    {"index_unknown_column.sql",
     "-- convoy:name index_unknown_column\n"
     "CREATE INDEX users_nope_idx ON users (no_such_column);\n",
     0},
    {"injection.sql",
     "-- convoy:name injection\n"
     "ALTER TABLE \"users; DROP TABLE x\" ADD COLUMN a int;\n",
     0},
};

static void
test_bad_migrations(void **state)
{
    itest_env_t *env = *state;
    char *before = NULL;
    int failures = 0;

    itest_exec(env->conn, "CREATE TABLE users (id bigserial PRIMARY KEY, name text);"
                          "INSERT INTO users (name) SELECT 'u' || g FROM generate_series(1, 100) g;"
                          "CREATE TABLE x (id int);"
                          "INSERT INTO x VALUES (1)");
    assert_true(harness_schema_dump_excluding(env->pg, "postgres", "convoy", &before));
    itest_keep(before);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const bad_case_t *bc = &cases[i];
        char *path = itest_write_migration(env, bc->file, bc->text);
        const char *args[3] = {"apply", path, NULL};
        convoy_result_t r;
        char *after = NULL;
        bool ok = true;

        fprintf(stderr, "bad_input: case %s\n", bc->file);
        r = itest_convoy(env, args);
        if (r.rc != CONVOY_EXIT_ERROR) {
            fprintf(stderr, "FAIL %s: exit %d, expected %d\n", bc->file, r.rc, CONVOY_EXIT_ERROR);
            ok = false;
        }
        if (r.err[0] == '\0') {
            fprintf(stderr, "FAIL %s: nothing on stderr\n", bc->file);
            ok = false;
        }
        if (bc->error_line > 0 && !itest_mentions_location(r.err, path, bc->error_line)) {
            fprintf(stderr, "FAIL %s: stderr does not point at %s:%d:\n", bc->file, bc->file,
                    bc->error_line);
            ok = false;
        }
        if (!harness_schema_dump_excluding(env->pg, "postgres", "convoy", &after) ||
            itest_keep(after) == NULL) {
            fprintf(stderr, "FAIL %s: pg_dump failed\n", bc->file);
            ok = false;
        } else if (strcmp(before, after) != 0) {
            fprintf(stderr, "FAIL %s: the schema changed; after:\n%s\n", bc->file, after);
            ok = false;
        }
        if (itest_int(env->conn, "SELECT count(*) FROM pg_class WHERE oid = "
                                 "to_regclass('public.x')") != 1 ||
            itest_int(env->conn, "SELECT count(*) FROM x") != 1) {
            fprintf(stderr, "FAIL %s: table x is gone\n", bc->file);
            ok = false;
        }
        if (!ok)
            failures++;
    }
    if (failures > 0)
        fail_msg("%d of %zu bad-input cases misbehaved (see FAIL lines above)", failures,
                 sizeof(cases) / sizeof(cases[0]));
}

static void
test_usage_errors(void **state)
{
    itest_env_t *env = *state;
    const char *bin = itest_convoy_bin();
    const char *no_args[] = {bin, NULL};
    const char *unknown_cmd[] = {bin, "frobnicate", NULL};
    const char *apply_no_file[] = {bin, "apply", NULL};
    const char *unknown_flag[] = {bin, "plan", "x.sql", "--no-such-flag", NULL};
    const char *const *cmds[] = {no_args, unknown_cmd, apply_no_file, unknown_flag};
    int failures = 0;

    (void)env;
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        char *out = NULL, *err = NULL;
        int rc = harness_run(cmds[i], &out, &err, 30000);

        fprintf(stderr, "usage: `%s %s` -> exit %d\nstderr: %s\n", bin,
                cmds[i][1] != NULL ? cmds[i][1] : "", rc, err != NULL ? err : "");
        if (rc != CONVOY_EXIT_USAGE || err == NULL || err[0] == '\0') {
            fprintf(stderr, "FAIL: expected exit %d with a message on stderr\n", CONVOY_EXIT_USAGE);
            failures++;
        }
        free(out);
        free(err);
    }
    if (failures > 0)
        fail_msg("%d usage errors did not exit 2", failures);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_migrations),
        cmocka_unit_test(test_usage_errors),
    };

    itest_init();
    return cmocka_run_group_tests(tests, itest_setup, itest_teardown);
}
