/*
 * test_verify.c: `convoy verify` compares each added column's DEFAULT with the file's, as the
 * server stores both, and its nullability with what the file leaves: every shape below
 * verifies after apply (which verifies by itself), and a default or nullability changed
 * afterwards fails with the column, what it has and what the file says.
 */
#include "convoy/util.h"
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

static const struct {
    const char *sql;   /* the migration's statements on table t (id, val) */
    const char *fault; /* run after apply: verify must then fail */
    const char *want;  /* ... naming this */
    const char *check; /* ... in this check */
} cases[] = {
    {"ALTER TABLE t ADD COLUMN plan text DEFAULT 'free';",
     "ALTER TABLE t ALTER COLUMN plan SET DEFAULT 'pro'",
     "t.plan has DEFAULT 'pro'::text (file: 'free'::text)", "default"},
    {"ALTER TABLE t ADD COLUMN n numeric(10,2) NOT NULL DEFAULT 1.5;",
     "ALTER TABLE t ALTER COLUMN n DROP DEFAULT", "t.n has no DEFAULT (file: 1.5)", "default"},
    {"ALTER TABLE t ADD COLUMN seen timestamptz DEFAULT now() NOT NULL;",
     "ALTER TABLE t ALTER COLUMN seen SET DEFAULT clock_timestamp()",
     "t.seen has DEFAULT clock_timestamp() (file: now())", "default"},
    /* a volatile default: added nullable, the default set, the rows backfilled */
    {"ALTER TABLE t ADD COLUMN token uuid DEFAULT gen_random_uuid();",
     "ALTER TABLE t ALTER COLUMN token DROP DEFAULT",
     "t.token has no DEFAULT (file: gen_random_uuid())", "default"},
    /* no default in the file: none may appear */
    {"-- convoy:backfill doubled = val * 2\nALTER TABLE t ADD COLUMN doubled bigint;",
     "ALTER TABLE t ALTER COLUMN doubled SET DEFAULT 7", "t.doubled has DEFAULT 7 (file: none)",
     "default"},
    /* later statements of the file decide */
    {"ALTER TABLE t ADD COLUMN later int;\nALTER TABLE t ALTER COLUMN later SET DEFAULT 42;",
     "ALTER TABLE t ALTER COLUMN later DROP DEFAULT", "t.later has no DEFAULT (file: 42)",
     "default"},
    {"ALTER TABLE t ADD COLUMN gone int DEFAULT 5;\nALTER TABLE t ALTER COLUMN gone DROP DEFAULT;",
     "ALTER TABLE t ALTER COLUMN gone SET DEFAULT 5", "t.gone has DEFAULT 5 (file: none)",
     "default"},
    {"ALTER TABLE t ADD COLUMN m mood NOT NULL DEFAULT 'ok';",
     "ALTER TABLE t ALTER COLUMN m SET DEFAULT 'sad'",
     "t.m has DEFAULT 'sad'::mood (file: 'ok'::mood)", "default"},
    /* nullability: the ADD's own, or what a later SET/DROP NOT NULL leaves */
    {"ALTER TABLE t ADD COLUMN n2 numeric(10,2) NOT NULL DEFAULT 1.5;",
     "ALTER TABLE t ALTER COLUMN n2 DROP NOT NULL", "t.n2 is nullable (file: NOT NULL)",
     "nullability"},
    {"ALTER TABLE t ADD COLUMN tight int DEFAULT 0;\nALTER TABLE t ALTER COLUMN tight SET NOT "
     "NULL;",
     "ALTER TABLE t ALTER COLUMN tight DROP NOT NULL", "t.tight is nullable (file: NOT NULL)",
     "nullability"},
    {"ALTER TABLE t ADD COLUMN loose int NOT NULL DEFAULT 0;\nALTER TABLE t ALTER COLUMN loose "
     "DROP NOT NULL;",
     "ALTER TABLE t ALTER COLUMN loose SET NOT NULL", "t.loose is NOT NULL (file: nullable)",
     "nullability"},
};

static void
test_verify_default(void **state)
{
    itest_env_t *env = *state;

    itest_exec(env->conn, "CREATE TYPE mood AS ENUM ('ok', 'sad')");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char name[32], file[48], okline[48], failline[48], *text, *path;
        const char *check = cases[i].check;
        const char *apply[3] = {"apply", NULL, NULL};
        const char *verify[3] = {"verify", name, NULL};
        convoy_result_t r;

        itest_exec(env->conn,
                   "DROP TABLE IF EXISTS t; CREATE TABLE t (id bigint PRIMARY KEY, "
                   "val int); INSERT INTO t SELECT g, g FROM generate_series(1, 2000) g");
        snprintf(name, sizeof(name), "default_%zu", i);
        snprintf(file, sizeof(file), "%s.sql", name);
        text = itest_keep(xasprintf("-- convoy:name %s\n%s\n", name, cases[i].sql));
        path = itest_write_migration(env, file, text);
        apply[1] = path;
        r = itest_convoy(env, apply);
        if (r.rc != CONVOY_EXIT_OK)
            fail_msg("case %zu: apply exited %d: %s", i, r.rc, r.err);
        snprintf(okline, sizeof(okline), "ok   primary  %s", check);
        snprintf(failline, sizeof(failline), "FAIL primary  %s", check);
        r = itest_convoy(env, verify);
        if (r.rc != CONVOY_EXIT_OK || strstr(r.out, okline) == NULL)
            fail_msg("case %zu: verify of the untouched result exited %d:\n%s", i, r.rc, r.out);

        itest_exec(env->conn, cases[i].fault);
        r = itest_convoy(env, verify);
        if (r.rc != CONVOY_EXIT_ERROR)
            fail_msg("case %zu: verify after `%s` exited %d, not 1:\n%s", i, cases[i].fault, r.rc,
                     r.out);
        if (strstr(r.out, cases[i].want) == NULL || strstr(r.out, failline) == NULL)
            fail_msg("case %zu: verify after `%s` does not say `%s`:\n%s", i, cases[i].fault,
                     cases[i].want, r.out);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify_default),
    };

    itest_init();
    return cmocka_run_group_tests(tests, itest_setup, itest_teardown);
}
