/* test_bad_input.c: bad migrations fail with an exact message and change nothing. */
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
    const char *text; /* NULL: made by make() */
    char *(*make)(void);
    int error_line; /* > 0: stderr must say "<file>:<line>:" */
    /*
     * When set, stderr must hold this exact line: "convoy: <path>:<line>:<col>: <message>"
     * (error_col > 0), "convoy: <path>:<line>: <message>" (error_line > 0, error_col 0) or
     * "convoy: <message>".
     */
    int error_col;
    const char *message;
    int rc; /* expected exit code; 0 means CONVOY_EXIT_ERROR */
} bad_case_t;

/* "1+1+...+1" with n terms, after prefix and before suffix; the test arena frees it. */
static char *
chain(const char *prefix, int n, const char *suffix)
{
    size_t len = strlen(prefix) + 2 * (size_t)n + strlen(suffix) + 1;
    char *s = malloc(len), *p;

    if (s == NULL)
        abort(); /* out of memory: nothing sensible to report */
    p = s + snprintf(s, len, "%s", prefix);
    for (int i = 0; i < n; i++) {
        if (i > 0)
            *p++ = '+';
        *p++ = '1';
    }
    snprintf(p, len - (size_t)(p - s), "%s", suffix);
    return itest_keep(s);
}

/* Crashed convoy (stack overflow in protobuf_c_message_unpack) at about 5,000 terms. */
static char *
make_deep_backfill(void)
{
    return chain("-- convoy:name deep_backfill\n-- convoy:backfill a = ", 5000,
                 "\nALTER TABLE users ADD COLUMN a int;\n");
}

/* Crashed convoy at about 20,000 terms in a DEFAULT. */
static char *
make_huge_default(void)
{
    return chain("-- convoy:name huge_default\nALTER TABLE users ADD COLUMN a int DEFAULT ", 20000,
                 ";\n");
}

/* Deep, but small enough to parse: refused on the depth of its tree, pointing into it. */
static char *
make_deep_default(void)
{
    return chain("-- convoy:name deep_default\nALTER TABLE users ADD COLUMN a int\n  DEFAULT ",
                 3000, ";\n");
}

#define DEEP_FIX "simplify it or move part of it into a SQL function"

static const bad_case_t cases[] = {
    {"empty.sql", "", NULL, 0, 0, NULL, 0},
    {"not_sql.sql", "-- convoy:name not_sql\nhello world this is not sql\n", NULL, 2, 0, NULL, 0},
    {"unknown_directive.sql",
     "-- convoy:name unknown_directive\n"
     "-- convoy:frobnicate 1\n"
     "ALTER TABLE users ADD COLUMN a int;\n",
     NULL, 2, 0, NULL, 0},
    {"missing_table.sql",
     "-- convoy:name missing_table\n"
     "ALTER TABLE no_such_table ADD COLUMN a int;\n",
     NULL, 0, 0, NULL, 0},
    {"backfill_unknown_column.sql",
     "-- convoy:name backfill_unknown_column\n"
     "-- convoy:backfill no_such_column = 1\n"
     "ALTER TABLE users ADD COLUMN a int;\n",
     NULL, 0, 0, NULL, 0},
    {"index_unknown_column.sql",
     "-- convoy:name index_unknown_column\n"
     "CREATE INDEX users_nope_idx ON users (no_such_column);\n",
     NULL, 0, 0, NULL, 0},
    {"injection.sql",
     "-- convoy:name injection\n"
     "ALTER TABLE \"users; DROP TABLE x\" ADD COLUMN a int;\n",
     NULL, 0, 0, NULL, 0},

    /* Issue 5, section 4: each used to crash or mislead. */
    {"deep_backfill.sql", NULL, make_deep_backfill, 2, 24,
     "expression is nested too deeply: more than 1000 levels in the parse tree (convoy's "
     "limit); " DEEP_FIX,
     0},
    {"huge_default.sql", NULL, make_huge_default, 2, 1,
     "expression is too large to parse safely: more than 10000 tokens in one nested expression "
     "(convoy's limit); " DEEP_FIX,
     0},
    {"deep_default.sql", NULL, make_deep_default, 3, 11,
     "expression is nested too deeply: more than 1000 levels in the parse tree (convoy's "
     "limit); " DEEP_FIX,
     0},
    /* A BOM is skipped: the error is the statement's own, at the same column as without it. */
    {"bom_then_error.sql",
     "\xEF\xBB\xBF-- convoy:name bom_then_error\n"
     "ALTER TABLE users ADD COLUMN;\n",
     NULL, 2, 29, "SQL syntax error: syntax error at or near \";\"; expected valid PostgreSQL SQL",
     0},
    {"unterminated_comment.sql",
     "-- convoy:name unterminated_comment\n"
     "/* ALTER TABLE users ADD COLUMN a int;\n"
     "ALTER TABLE users ADD COLUMN b int;\n",
     NULL, 2, 1, "unterminated /* comment starting here; close it with */", 0},
    {"unterminated_string.sql",
     "-- convoy:name unterminated_string\n"
     "ALTER TABLE users ADD COLUMN a text DEFAULT 'never closed;\n"
     "ALTER TABLE users ADD COLUMN b int;\n",
     NULL, 2, 45, "unterminated quoted string starting here; close it with '", 0},
    {"invalid_utf8.sql",
     "-- convoy:name invalid_utf8\n"
     "ALTER TABLE users ADD COLUMN a text DEFAULT 'caf\xe9';\n",
     NULL, 2, 49,
     "invalid UTF-8 byte sequence 0xe9 0x27; convoy reads migration files as UTF-8: convert the "
     "file (for example `iconv -f LATIN1 -t UTF-8`)",
     0},
    {"duplicate_name.sql",
     "-- convoy:name first_name\n"
     "ALTER TABLE users ADD COLUMN a int;\n"
     "-- convoy:name second_name\n",
     NULL, 3, 4, "convoy:name is given twice (lines 1 and 3); it takes one value: keep one of them",
     0},
    {"duplicate_lock_timeout.sql",
     "-- convoy:name duplicate_lock_timeout\n"
     "-- convoy:lock-timeout 100ms\n"
     "--convoy:lock-timeout 2s\n"
     "ALTER TABLE users ADD COLUMN a int;\n",
     NULL, 3, 3,
     "convoy:lock-timeout is given twice (lines 2 and 3); it takes one value: keep one of them", 0},
    /*
     * Directive-looking lines inside a dollar-quoted and a multi-line string are SQL: the
     * errors are the statements' own (the table does not exist), not "unknown directive".
     */
    {"directive_in_dollar_quote.sql",
     "-- convoy:name directive_in_dollar_quote\n"
     "ALTER TABLE no_such_table ADD COLUMN a text DEFAULT $$\n"
     "-- convoy:frobnicate 1\n"
     "$$;\n",
     NULL, 2, 0, "error: unknown table no_such_table", 0},
    {"directive_in_string.sql",
     "-- convoy:name directive_in_string\n"
     "ALTER TABLE no_such_table ADD COLUMN a text DEFAULT 'x\n"
     "  -- convoy:lock-timeout 1h\n"
     "';\n",
     NULL, 2, 0, "error: unknown table no_such_table", 0},
};

/* The exact line a case expects on stderr, or NULL. */
static char *
expected_line(const bad_case_t *bc, const char *path)
{
    char buf[8192];

    if (bc->message == NULL)
        return NULL;
    if (bc->error_col > 0)
        snprintf(buf, sizeof(buf), "convoy: %s:%d:%d: %s\n", path, bc->error_line, bc->error_col,
                 bc->message);
    else if (bc->error_line > 0)
        snprintf(buf, sizeof(buf), "convoy: %s:%d: %s\n", path, bc->error_line, bc->message);
    else
        snprintf(buf, sizeof(buf), "convoy: %s\n", bc->message);
    return itest_keep(strdup(buf));
}

/* Schema and table x as before the case ran; prints what differs. */
static bool
schema_unchanged(itest_env_t *env, const char *before, const char *what)
{
    char *after = NULL;

    if (!harness_schema_dump_excluding(env->pg, "postgres", "convoy", &after) ||
        itest_keep(after) == NULL) {
        fprintf(stderr, "FAIL %s: pg_dump failed\n", what);
        return false;
    }
    if (strcmp(before, after) != 0) {
        fprintf(stderr, "FAIL %s: the schema changed; after:\n%s\n", what, after);
        return false;
    }
    if (itest_int(env->conn, "SELECT count(*) FROM pg_class WHERE oid = "
                             "to_regclass('public.x')") != 1 ||
        itest_int(env->conn, "SELECT count(*) FROM x") != 1) {
        fprintf(stderr, "FAIL %s: table x is gone\n", what);
        return false;
    }
    return true;
}

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
        const char *text = bc->text != NULL ? bc->text : bc->make();
        char *path = itest_write_migration(env, bc->file, text);
        const char *args[3] = {"apply", path, NULL};
        int want_rc = bc->rc != 0 ? bc->rc : CONVOY_EXIT_ERROR;
        char *want_line = expected_line(bc, path);
        convoy_result_t r;
        bool ok = true;

        fprintf(stderr, "bad_input: case %s\n", bc->file);
        r = itest_convoy(env, args);
        if (r.rc != want_rc) {
            fprintf(stderr, "FAIL %s: exit %d, expected %d\n", bc->file, r.rc, want_rc);
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
        if (want_line != NULL && strstr(r.err, want_line) == NULL) {
            fprintf(stderr, "FAIL %s: stderr lacks the line\n%s", bc->file, want_line);
            ok = false;
        }
        if (!schema_unchanged(env, before, bc->file))
            ok = false;
        if (!ok)
            failures++;
    }
    if (failures > 0)
        fail_msg("%d of %zu bad-input cases misbehaved (see FAIL lines above)", failures,
                 sizeof(cases) / sizeof(cases[0]));
}

/*
 * A read-only standby: every catalog probe fails there as read-only, which convoy used to
 * blame on the column type or DEFAULT. Nothing may change on either server.
 */
static void
test_standby(void **state)
{
    itest_env_t *env = *state;
    harness_pg_t *replica = harness_pg_add_replica(env->pg);
    char *before = NULL, *db = NULL, *path;
    const char *bin = itest_convoy_bin();
    static const char want[] =
        "convoy: this server is a read-only standby (in recovery); connect convoy to the "
        "primary\n";
    char *out = NULL, *err = NULL;
    int rc;

    assert_non_null(replica);
    assert_true(harness_pg_wait_streaming(env->pg, replica, 60000));
    assert_true(harness_schema_dump_excluding(env->pg, "postgres", "convoy", &before));
    itest_keep(before);
    db = itest_keep(harness_pg_conninfo_db(replica, "postgres"));
    path = itest_write_migration(env, "on_standby.sql",
                                 "-- convoy:name on_standby\n"
                                 "ALTER TABLE users ADD COLUMN on_standby timestamptz DEFAULT "
                                 "now() NOT NULL;\n");
    for (int k = 0; k < 2; k++) {
        const char *argv[] = {bin, k == 0 ? "plan" : "apply", path, "--db", db, NULL};
        rc = harness_run(argv, &out, &err, ITEST_CONVOY_TIMEOUT_MS);
        itest_keep(out);
        itest_keep(err);
        fprintf(stderr, "standby: convoy %s -> exit %d\nstderr: %s\n", argv[1], rc, err ? err : "");
        assert_int_equal(rc, CONVOY_EXIT_ERROR);
        assert_non_null(err);
        assert_non_null(strstr(err, want));
    }
    assert_true(schema_unchanged(env, before, "standby"));
    harness_pg_stop(replica);
}

/* A leading UTF-8 BOM (Windows editors write one) used to be a syntax error. */
static void
test_bom_accepted(void **state)
{
    itest_env_t *env = *state;
    const char *args[3] = {"apply", NULL, NULL};
    convoy_result_t r;

    args[1] = itest_write_migration(env, "bom.sql",
                                    "\xEF\xBB\xBF-- convoy:name bom\n"
                                    "ALTER TABLE users ADD COLUMN from_bom int;\n");
    r = itest_convoy(env, args);
    assert_int_equal(r.rc, CONVOY_EXIT_OK);
    assert_int_equal(itest_int(env->conn, "SELECT count(*) FROM pg_attribute WHERE attrelid = "
                                          "'users'::regclass AND attname = 'from_bom'"),
                     1);
    /* The name came from the directive after the BOM, not from the file name. */
    assert_int_equal(
        itest_int(env->conn, "SELECT count(*) FROM convoy.migrations WHERE name = 'bom'"), 1);
}

/*
 * Long non-ASCII names: helper names (check, trigger, function) built from table and column
 * were cut at byte 63 inside a character, and the server refused them as invalid UTF-8.
 */
static void
test_long_utf8_names(void **state)
{
    itest_env_t *env = *state;
    /* 30 x "\u00e9" (60 bytes): every helper name built from table and column passes 63. */
    static const char table[] = "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                                "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                                "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                                "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";
    char sql[2048], text[1024];
    const char *args[3] = {"apply", NULL, NULL};
    convoy_result_t r;

    snprintf(sql, sizeof(sql),
             "CREATE TABLE \"%s\" (id bigserial PRIMARY KEY);"
             "INSERT INTO \"%s\" SELECT FROM generate_series(1, 50)",
             table, table);
    itest_exec(env->conn, sql);
    snprintf(text, sizeof(text),
             "-- convoy:name long_names\n"
             "-- convoy:backfill \"%s\" = id * 2\n"
             "ALTER TABLE \"%s\" ADD COLUMN \"%s\" bigint DEFAULT random()::int NOT NULL;\n",
             table, table, table);
    args[1] = itest_write_migration(env, "long_names.sql", text);
    r = itest_convoy(env, args);
    assert_int_equal(r.rc, CONVOY_EXIT_OK);
    assert_null(strstr(r.err, "invalid byte sequence"));
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\" WHERE \"%s\" = id * 2", table, table);
    assert_int_equal(itest_int(env->conn, sql), 50);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_attribute WHERE attrelid = '\"%s\"'::regclass AND "
             "attname = '%s' AND attnotnull",
             table, table);
    assert_int_equal(itest_int(env->conn, sql), 1);
    /* The helper check and the sync trigger are gone again. */
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_constraint WHERE conrelid = '\"%s\"'::regclass AND "
             "contype = 'c'",
             table);
    assert_int_equal(itest_int(env->conn, sql), 0);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_trigger WHERE tgrelid = '\"%s\"'::regclass",
             table);
    assert_int_equal(itest_int(env->conn, sql), 0);

    /*
     * An unnamed index: convoy names it (it builds it CONCURRENTLY under that name) the way
     * PostgreSQL would. PostgreSQL names the same index on a same-named table elsewhere.
     */
    snprintf(sql, sizeof(sql),
             "CREATE SCHEMA pgnames; CREATE TABLE pgnames.\"%s\" (\"%s\" int);"
             "CREATE INDEX ON pgnames.\"%s\" (\"%s\")",
             table, table, table, table);
    itest_exec(env->conn, sql);
    snprintf(text, sizeof(text), "-- convoy:name long_index\nCREATE INDEX ON \"%s\" (\"%s\");\n",
             table, table);
    args[1] = itest_write_migration(env, "long_index.sql", text);
    r = itest_convoy(env, args);
    assert_int_equal(r.rc, CONVOY_EXIT_OK);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
             "JOIN pg_class p ON p.relname = c.relname AND p.relnamespace = "
             "'pgnames'::regnamespace WHERE i.indrelid = '\"%s\"'::regclass AND "
             "NOT i.indisprimary AND i.indisvalid",
             table);
    assert_int_equal(itest_int(env->conn, sql), 1);
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
        cmocka_unit_test(test_bad_migrations), cmocka_unit_test(test_standby),
        cmocka_unit_test(test_bom_accepted),   cmocka_unit_test(test_long_utf8_names),
        cmocka_unit_test(test_usage_errors),
    };

    itest_init();
    return cmocka_run_group_tests(tests, itest_setup, itest_teardown);
}
