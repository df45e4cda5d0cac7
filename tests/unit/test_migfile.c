/* test_migfile.c: the migration parser's input handling: encoding, tokens, limits, names,
 * directives, speed. */
#include "convoy/facts.h"
#include "convoy/migration.h"
#include "convoy/plan.h"
#include "convoy/util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#define E_ACUTE "\xc3\xa9"     /* é: 2 bytes */
#define EURO    "\xe2\x82\xac" /* €: 3 bytes */
#define E10     E_ACUTE E_ACUTE E_ACUTE E_ACUTE E_ACUTE E_ACUTE E_ACUTE E_ACUTE E_ACUTE E_ACUTE
#define E30     E10 E10 E10 /* 60 bytes */

/* True when s is valid UTF-8 (no overlongs, surrogates or values past U+10FFFF). */
static bool
utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        int n = *p < 0x80                  ? 1
                : *p >= 0xC2 && *p <= 0xDF ? 2
                : *p >= 0xE0 && *p <= 0xEF ? 3
                : *p >= 0xF0 && *p <= 0xF4 ? 4
                                           : 0;
        if (n == 0)
            return false;
        for (int k = 1; k < n; k++)
            if ((p[k] & 0xC0) != 0x80)
                return false;
        p += n;
    }
    return true;
}

/* --------------------------------------------------------------- ident_clip_len */

static void
test_clip_len(void **state)
{
    (void)state;
    assert_int_equal(ident_clip_len("abc", 63), 3);
    assert_int_equal(ident_clip_len("abcdef", 4), 4);
    /* "aé" is 3 bytes: a limit of 2 would cut é in half, so keep only "a". */
    assert_int_equal(ident_clip_len("a" E_ACUTE "b", 2), 1);
    assert_int_equal(ident_clip_len("a" E_ACUTE "b", 3), 3);
    /* "€" is 3 bytes: limits 1 and 2 both fall inside it. */
    assert_int_equal(ident_clip_len("x" EURO, 2), 1);
    assert_int_equal(ident_clip_len("x" EURO, 3), 1);
    assert_int_equal(ident_clip_len("x" EURO "y", 4), 4);
    /* A 4-byte character (U+1F600). */
    assert_int_equal(ident_clip_len("\xf0\x9f\x98\x80z", 3), 0);
    assert_int_equal(ident_clip_len(E30, 63), 60);
    assert_int_equal(ident_clip_len(E30, 59), 58);
}

/* --------------------------------------------------------------- names */

/* Every double-quoted identifier in sql is at most 63 bytes and valid UTF-8. */
static void
check_identifiers(const char *sql)
{
    const char *p = sql;

    assert_true(utf8_valid(sql));
    while ((p = strchr(p, '"')) != NULL) {
        sb_t id;
        sb_init(&id);
        for (p++; *p && !(p[0] == '"' && p[1] != '"'); p++) {
            if (p[0] == '"')
                p++; /* "" is one quote */
            sb_putc(&id, *p);
        }
        if (id.len > IDENT_MAX_BYTES)
            fail_msg("identifier of %zu bytes in: %s", id.len, sql);
        if (!utf8_valid(id.data))
            fail_msg("identifier cut inside a character in: %s", sql);
        sb_free(&id);
        if (*p)
            p++;
    }
}

/*
 * The planner's helper names (NOT NULL check, sync trigger and function) and the index and
 * constraint names the parser generates stay within 63 bytes, cut on character boundaries.
 */
static void
test_long_utf8_names(void **state)
{
    static const char text[] =
        "-- convoy:backfill \"" E30 "\" = id * 2\n"
        "ALTER TABLE \"" E30 "\" ADD COLUMN \"" E30 "\" bigint DEFAULT random()::int NOT NULL;\n"
        "CREATE INDEX ON \"" E30 "\" (\"" E30 "\");\n"
        "ALTER TABLE \"" E30 "\" ADD CHECK (\"" E30 "\" > 0);\n"
        "ALTER TABLE \"" E30 "\" ADD FOREIGN KEY (\"" E30 "\") REFERENCES \"" E30 "\" (id);\n";
    migration_t m;
    parse_error_t err;
    facts_t facts = {0};
    plan_t plan;
    bool saw_not_null = false, saw_sync = false;

    (void)state;
    if (!migration_parse("m.sql", text, &m, &err))
        fail_msg("%d:%d: %s", err.line, err.column, err.message);
    assert_int_equal(m.n_actions, 4);
    /* PostgreSQL's makeObjectName: both halves shortened to 29 bytes, then to 14 characters. */
    assert_string_equal(m.actions[1].index_name, E10 E_ACUTE E_ACUTE E_ACUTE E_ACUTE
                        "_" E10 E_ACUTE E_ACUTE E_ACUTE E_ACUTE "_idx");
    for (size_t i = 0; i < m.n_actions; i++) {
        const action_t *a = &m.actions[i];
        if (a->index_name) {
            assert_true(strlen(a->index_name) <= IDENT_MAX_BYTES);
            assert_true(utf8_valid(a->index_name));
        }
        if (a->constraint_name) {
            assert_true(strlen(a->constraint_name) <= IDENT_MAX_BYTES);
            assert_true(utf8_valid(a->constraint_name));
        }
    }
    plan_build(&m, &facts, &plan);
    assert_int_equal(plan.n_errors, 0);
    assert_true(plan.n_steps > 0);
    for (size_t i = 0; i < plan.n_steps; i++) {
        check_identifiers(plan.steps[i].sql);
        saw_not_null = saw_not_null || strstr(plan.steps[i].sql, "_not_null\"") != NULL;
        saw_sync = saw_sync || strstr(plan.steps[i].sql, "_sync\"") != NULL;
    }
    /* The suffixes survive the cut: they are what tells the helpers apart. */
    assert_true(saw_not_null);
    assert_true(saw_sync);
    plan_free(&plan);
    migration_free(&m);
}

/* --------------------------------------------------------------- input handling */

typedef struct {
    const char *name;
    const char *text; /* NULL: made by make() */
    char *(*make)(void);
    int line, column; /* expected error position; 0 line: parses */
    const char *msg;  /* the exact error message */
} input_case_t;

/* "1+1+...+1": n terms after prefix, then suffix. Caller frees. */
static char *
chain(const char *prefix, int n, const char *suffix)
{
    sb_t sb;

    sb_init(&sb);
    sb_puts(&sb, prefix);
    for (int i = 0; i < n; i++)
        sb_puts(&sb, i ? "+1" : "1");
    sb_puts(&sb, suffix);
    return sb_steal(&sb);
}

static char *
deep_backfill(void)
{
    return chain("-- convoy:backfill a = ", 5000, "\nALTER TABLE t ADD COLUMN a int;\n");
}

static char *
huge_default(void)
{
    return chain("ALTER TABLE t ADD COLUMN a int DEFAULT ", 20000, ";\n");
}

static char *
deep_default(void)
{
    return chain("ALTER TABLE t ADD COLUMN a int\n  DEFAULT (", 3000, ");\n");
}

/* Deep, but within the limit: parses. */
static char *
near_limit(void)
{
    return chain("-- convoy:backfill a = ", 900, "\nALTER TABLE t ADD COLUMN a int DEFAULT 1;\n");
}

#define DEEP                                                                                       \
    "expression is nested too deeply: more than 1000 levels in the parse tree (convoy's limit); "
#define HUGE     "expression is too large to parse safely: more than 10000 tokens in one nested "
#define FIX_DEEP "simplify it or move part of it into a SQL function"

static const input_case_t input_cases[] = {
    {"BOM is skipped", "\xEF\xBB\xBF-- convoy:name bom\nALTER TABLE t ADD COLUMN a int;\n", NULL, 0,
     0, NULL},
    {"BOM does not shift columns",
     "\xEF\xBB\xBF"
     "ALTER TABLE t ADD COLUMN;\n",
     NULL, 1, 25, "SQL syntax error: syntax error at or near \";\"; expected valid PostgreSQL SQL"},
    {"a BOM later in the file is not skipped",
     "SELECT 1;\n\xEF\xBB\xBF"
     "SELECT 2;\n",
     NULL, 2, 1, NULL},
    {"invalid UTF-8: lone continuation byte", "ALTER TABLE t ADD COLUMN a text DEFAULT '\x80';\n",
     NULL, 1, 42,
     "invalid UTF-8 byte sequence 0x80; convoy reads migration files as UTF-8: convert the file "
     "(for example `iconv -f LATIN1 -t UTF-8`)"},
    {"invalid UTF-8: column counts characters", "-- " EURO EURO "\n" E_ACUTE E_ACUTE "\xff\n", NULL,
     2, 3, NULL},
    {"invalid UTF-8: overlong", "SELECT '\xc0\xaf';\n", NULL, 1, 9,
     "invalid UTF-8 byte sequence 0xc0; convoy reads migration files as UTF-8: convert the file "
     "(for example `iconv -f LATIN1 -t UTF-8`)"},
    {"invalid UTF-8: surrogate", "SELECT '\xed\xa0\x80';\n", NULL, 1, 9,
     "invalid UTF-8 byte sequence 0xed 0xa0; convoy reads migration files as UTF-8: convert the "
     "file (for example `iconv -f LATIN1 -t UTF-8`)"},
    {"invalid UTF-8: truncated at the end", "SELECT 1; -- \xe2\x82", NULL, 1, 14,
     "invalid UTF-8 byte sequence 0xe2 0x82; convoy reads migration files as UTF-8: convert the "
     "file (for example `iconv -f LATIN1 -t UTF-8`)"},
    {"valid 4-byte UTF-8", "SELECT '\xf0\x9f\x98\x80';\n", NULL, 0, 0, NULL},
    {"unterminated comment", "-- convoy:name c\n\n  /* nothing\n ever closes\n", NULL, 3, 3,
     "unterminated /* comment starting here; close it with */"},
    {"unterminated nested comment", "SELECT 1; /* a /* b */\n", NULL, 1, 11,
     "unterminated /* comment starting here; close it with */"},
    {"unterminated string", "SELECT 1;\nSELECT 'abc\n", NULL, 2, 8,
     "unterminated quoted string starting here; close it with '"},
    {"unterminated dollar quote", "SELECT $x$ abc $y$;\n", NULL, 1, 8,
     "unterminated dollar-quoted string starting here; close it with the same $tag$ that "
     "opened it"},
    {"unterminated quoted identifier", "SELECT \"abc;\n", NULL, 1, 8,
     "unterminated quoted identifier starting here; close it with \""},
    {"duplicate name", "-- convoy:name a\n-- convoy:name b\nSELECT 1;\n", NULL, 2, 4,
     "convoy:name is given twice (lines 1 and 2); it takes one value: keep one of them"},
    {"duplicate lock-timeout, even when equal",
     "-- convoy:lock-timeout 1s\nSELECT 1;\n-- convoy:lock-timeout 1s\n", NULL, 3, 4,
     "convoy:lock-timeout is given twice (lines 1 and 3); it takes one value: keep one of them"},
    {"duplicate batch-target",
     "-- convoy:batch-target 1s\n  -- convoy:batch-target 2s\nSELECT 1;\n", NULL, 2, 6,
     "convoy:batch-target is given twice (lines 1 and 2); it takes one value: keep one of them"},
    {"duplicate statement-timeout",
     "--convoy:statement-timeout 1s\n--convoy:statement-timeout 2s\nSELECT 1;\n", NULL, 2, 3,
     "convoy:statement-timeout is given twice (lines 1 and 2); it takes one value: keep one of "
     "them"},
    {"directive inside a dollar-quoted body is SQL",
     "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$\n-- convoy:frobnicate\nSELECT 1\n$$;\n",
     NULL, 0, 0, NULL},
    {"directive inside a multi-line string is SQL",
     "COMMENT ON TABLE t IS 'a\n-- convoy:name x\n-- convoy:name y\n';\n", NULL, 0, 0, NULL},
    {"directive inside a block comment is a comment", "/*\n-- convoy:frobnicate\n*/\nSELECT 1;\n",
     NULL, 0, 0, NULL},
    {"a real directive after a dollar-quoted one still counts",
     "SELECT $$\n-- convoy:lock-timeout 1s\n$$;\n-- convoy:lock-timeout 20s\n", NULL, 4, 4,
     "convoy:lock-timeout 20s is out of range; allowed 1 ms to 10000 ms"},
    {"contract directive: no value", "-- convoy:contract\nALTER TABLE t DROP COLUMN a;\n", NULL, 0,
     0, NULL},
    {"contract directive: trailing blanks are no value", "-- convoy:contract \t\nSELECT 1;\n", NULL,
     0, 0, NULL},
    {"contract directive: not a migration name", "-- convoy:contract add x\nSELECT 1;\n", NULL, 1,
     20,
     "convoy:contract takes nothing or the name of the migration this file is the contract of, "
     "got 'add x' (use 1-63 letters, digits, '_', '.' or '-')"},
    {"contract of a named migration", "-- convoy:contract add_x\nSELECT 1;\n", NULL, 0, 0, NULL},
    {"app-version directive", "-- convoy:app-version v2.1\nSELECT 1;\n", NULL, 0, 0, NULL},
    {"app-version directive without a value", "-- convoy:app-version\nSELECT 1;\n", NULL, 1, 22,
     "convoy:app-version needs the app version this migration is for, 1-64 characters without "
     "spaces or quotes (for example `-- convoy:app-version v2`), got ''"},
    {"contract-hold directive out of range", "-- convoy:contract-hold 8d\nSELECT 1;\n", NULL, 1, 4,
     "invalid duration '8d' for convoy:contract-hold; expected e.g. 50ms or 2s"},
    {"contract directive twice", "-- convoy:contract\nSELECT 1;\n-- convoy:contract\n", NULL, 3, 4,
     "convoy:contract is given twice (lines 1 and 3); it takes one value: keep one of them"},
    {"index-foreign-keys directive: no value",
     "-- convoy:index-foreign-keys\nALTER TABLE t ADD FOREIGN KEY (u) REFERENCES u (id);\n", NULL,
     0, 0, NULL},
    {"index-foreign-keys directive with a value points at it",
     "-- convoy:index-foreign-keys on\nSELECT 1;\n", NULL, 1, 30,
     "convoy:index-foreign-keys takes no value, got 'on'"},
    {"index-foreign-keys directive twice",
     "  -- convoy:index-foreign-keys\n--convoy:index-foreign-keys\nSELECT 1;\n", NULL, 2, 3,
     "convoy:index-foreign-keys is given twice (lines 1 and 2); it takes one value: keep one of "
     "them"},
    {"deep backfill expression", NULL, deep_backfill, 1, 24, DEEP FIX_DEEP},
    {"huge DEFAULT expression", NULL, huge_default, 1, 1,
     HUGE "expression (convoy's limit); " FIX_DEEP},
    {"deep DEFAULT expression points into it", NULL, deep_default, 2, 12, DEEP FIX_DEEP},
    {"deep but within the limit", NULL, near_limit, 0, 0, NULL},
    {"backfill positions", "-- convoy:backfill a  1\nALTER TABLE t ADD COLUMN a int;\n", NULL, 1,
     23, NULL},
    {"backfill syntax error position", "-- convoy:backfill a = 1 + +\nSELECT 1;\n", NULL, 1, 29,
     NULL},
};

static void
run_input_case(void **state)
{
    const input_case_t *tc = *state;
    char *made = tc->make ? tc->make() : NULL;
    const char *text = tc->text ? tc->text : made;
    migration_t m;
    parse_error_t err;
    bool ok = migration_parse("m.sql", text, &m, &err);

    free(made);
    migration_free(&m);
    if (ok != (tc->line == 0))
        fail_msg("%s: migration_parse returned %d (%d:%d: %s)", tc->name, ok, err.line, err.column,
                 err.message);
    if (ok)
        return;
    if (err.line != tc->line || err.column != tc->column)
        fail_msg("%s: error at %d:%d, expected %d:%d (%s)", tc->name, err.line, err.column,
                 tc->line, tc->column, err.message);
    if (tc->msg && strcmp(err.message, tc->msg) != 0)
        fail_msg("%s: message\n  \"%s\"\nexpected\n  \"%s\"", tc->name, err.message, tc->msg);
}

/* The BOM is not part of the migration: not in its text nor in its checksum. */
static void
test_bom_checksum(void **state)
{
    migration_t a, b;
    parse_error_t err;

    (void)state;
    assert_true(migration_parse("m.sql", "SELECT 1;\n", &a, &err));
    assert_true(migration_parse("m.sql", "\xEF\xBB\xBFSELECT 1;\n", &b, &err));
    assert_string_equal(a.checksum, b.checksum);
    assert_string_equal(b.text, "SELECT 1;\n");
    migration_free(&a);
    migration_free(&b);
}

/* A NUL byte (a UTF-16 file, say) is refused where it is. */
static void
test_nul_byte(void **state)
{
    static const char bytes[] = "SELECT 1;\nSEL\0ECT 2;\n";
    char path[] = "/tmp/convoy-test-nul-XXXXXX";
    int fd = mkstemp(path);
    migration_t m;
    parse_error_t err;
    bool ok;

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bytes, sizeof(bytes) - 1), (ssize_t)(sizeof(bytes) - 1));
    close(fd);
    ok = migration_load(path, &m, &err);
    unlink(path);
    assert_false(ok);
    assert_int_equal(err.line, 2);
    assert_int_equal(err.column, 4);
    assert_string_equal(err.message, "file contains a NUL byte; expected a UTF-8 text SQL file (is "
                                     "it UTF-16? convert it with `iconv -f UTF-16 -t UTF-8`)");
}

/* Directives still work in the places they always did, and trailing comments are not ones. */
static void
test_directive_placement(void **state)
{
    static const char text[] = "SELECT 1; -- convoy:name trailing\n"
                               "ALTER TABLE t\n"
                               "  -- convoy:lock-timeout 2s\n"
                               "  ADD COLUMN a int;\n"
                               "\t-- convoy:name tabbed\n";
    migration_t m;
    parse_error_t err;

    (void)state;
    assert_true(migration_parse("m.sql", text, &m, &err));
    assert_string_equal(m.name, "tabbed");
    assert_int_equal(m.lock_timeout_ms, 2000);
    /* The ALTER starts on line 2; the comment inside it does not move it. */
    assert_int_equal(m.n_actions, 2);
    assert_int_equal(m.actions[1].kind, ACT_ADD_COLUMN);
    assert_int_equal(m.actions[1].line, 2);
    migration_free(&m);
}

/* The no-value directives land in the migration; without them both are off. */
static void
test_flag_directives(void **state)
{
    migration_t m;
    parse_error_t err;

    (void)state;
    assert_true(migration_parse("m.sql", "ALTER TABLE t DROP COLUMN a;\n", &m, &err));
    assert_false(m.contract);
    assert_false(m.index_foreign_keys);
    migration_free(&m);

    assert_true(migration_parse("m.sql",
                                "-- convoy:contract\n"
                                "ALTER TABLE t DROP COLUMN a;\n"
                                "-- convoy:index-foreign-keys\n",
                                &m, &err));
    assert_true(m.contract);
    assert_true(m.index_foreign_keys);
    assert_int_equal(m.n_actions, 1);
    migration_free(&m);

    assert_true(migration_parse("m.sql", "-- convoy:index-foreign-keys\nSELECT 1;\n", &m, &err));
    assert_false(m.contract);
    assert_true(m.index_foreign_keys);
    migration_free(&m);
}

/* Statement positions skip block comments as well as line comments. */
static void
test_positions_after_block_comments(void **state)
{
    static const char text[] = "/* header\n   comment */ ALTER TABLE t ADD COLUMN a int;\n"
                               "/* x */ /* y */\n"
                               "  CREATE INDEX ON t (a);\n";
    migration_t m;
    parse_error_t err;

    (void)state;
    assert_true(migration_parse("m.sql", text, &m, &err));
    assert_int_equal(m.n_actions, 2);
    assert_int_equal(m.actions[0].line, 2);
    assert_int_equal(m.actions[0].line_col, 15);
    assert_string_equal(m.actions[0].stmt_sql, "ALTER TABLE t ADD COLUMN a int");
    assert_int_equal(m.actions[1].line, 4);
    assert_int_equal(m.actions[1].line_col, 3);
    assert_string_equal(m.actions[1].stmt_sql, "CREATE INDEX ON t (a)");
    migration_free(&m);
}

/* Long flat lists (many rows, many columns) are not deep. */
static void
test_long_flat_lists(void **state)
{
    sb_t sb;
    migration_t m;
    parse_error_t err;

    (void)state;
    sb_init(&sb);
    sb_puts(&sb, "CREATE TABLE v (id int, s text);\nINSERT INTO v VALUES ");
    for (int i = 0; i < 20000; i++)
        sb_printf(&sb, "%s(%d, 'row %d')", i ? ", " : "", i, i);
    sb_puts(&sb, ";\nALTER TABLE v ADD CONSTRAINT v_id_check CHECK (id IN (");
    for (int i = 0; i < 5000; i++)
        sb_printf(&sb, "%s%d", i ? ", " : "", i);
    sb_puts(&sb, "));\n");
    if (!migration_parse("m.sql", sb.data, &m, &err))
        fail_msg("%d:%d: %s", err.line, err.column, err.message);
    assert_int_equal(m.n_actions, 3);
    migration_free(&m);
    sb_free(&sb);
}

/*
 * Parse time is linear: 40,000 statements used to take about 28 s (each statement's line
 * number was found by walking from the top of the file). ctest's timeout backs this up.
 */
static void
test_parse_40k_statements(void **state)
{
    enum { N = 40000 };
    static const char stmt[] = "ALTER TABLE t ALTER COLUMN c SET DEFAULT 1;\n";
    char *text = xmalloc(N * (sizeof(stmt) - 1) + 1);
    migration_t m;
    parse_error_t err;
    int64_t t0, ms;

    (void)state;
    for (size_t i = 0; i < N; i++)
        memcpy(text + i * (sizeof(stmt) - 1), stmt, sizeof(stmt) - 1);
    text[N * (sizeof(stmt) - 1)] = '\0';
    t0 = now_mono_ms();
    assert_true(migration_parse("m.sql", text, &m, &err));
    ms = now_mono_ms() - t0;
    fprintf(stderr, "parsed %d statements in %lld ms\n", N, (long long)ms);
    assert_int_equal(m.n_actions, N);
    assert_int_equal(m.actions[N - 1].line, N);
    /* Generous for sanitizers and a loaded machine; the quadratic parser took ~30x this. */
    assert_true(ms < 15000);
    migration_free(&m);
    free(text);
}

/* -- convoy:cache: each kind parsed; each malformed one refused at its line and column. */
static void
test_cache_directives(void **state)
{
    static const struct {
        const char *directive;
        const char *error; /* NULL: accepted */
    } cases[] = {
        {"-- convoy:cache key user:{id}", NULL},
        {"-- convoy:cache key org:{org_id}:user:{id}", NULL},
        {"-- convoy:cache bump users:version", NULL},
        {"-- convoy:cache purge 'user-list:*'", NULL},
        {"-- convoy:cache key user:id", "needs a {column} placeholder"},
        {"-- convoy:cache key user:{id", "a '{' without its '}'"},
        {"-- convoy:cache key user:}id", "a '}' without its '{'"},
        {"-- convoy:cache key user:{Id}", "must name a lower-case column"},
        {"-- convoy:cache key it's:{id}", "no spaces, quotes"},
        {"-- convoy:cache key", "convoy:cache needs `key TEMPLATE`"},
        {"-- convoy:cache drop user:{id}", "convoy:cache needs `key TEMPLATE`"},
        {"-- convoy:cache bump ''", "missing its key"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *text = xasprintf("%s\nALTER TABLE users ADD COLUMN x int;\n", cases[i].directive);
        migration_t m;
        parse_error_t err = {0};
        bool ok = migration_parse("c.sql", text, &m, &err);
        if (cases[i].error == NULL) {
            if (!ok)
                fail_msg("`%s` refused: %s", cases[i].directive, err.message);
            assert_int_equal(m.n_cache_rules, 1);
            assert_int_equal(m.cache_rules[0].line, 1);
            migration_free(&m);
        } else {
            if (ok)
                fail_msg("`%s` accepted", cases[i].directive);
            if (strstr(err.message, cases[i].error) == NULL)
                fail_msg("`%s`: `%s` lacks `%s`", cases[i].directive, err.message, cases[i].error);
            assert_int_equal(err.line, 1);
        }
        free(text);
    }
}

/* What a file leaves of each column it adds: the ADD's own DEFAULT and NOT NULL, or the
 * last later statement on that column (of the same table; schema matched when given). */
static void
test_final_column(void **state)
{
    static const struct {
        const char *sql;
        const char *dflt; /* NULL: none */
        column_null_t nullability;
    } cases[] = {
        {"ALTER TABLE t ADD COLUMN c int;", NULL, COLUMN_NULL_ANY},
        {"ALTER TABLE t ADD COLUMN c int NOT NULL DEFAULT 1;", "1", COLUMN_NOT_NULL},
        {"ALTER TABLE t ADD COLUMN c int DEFAULT 1;\nALTER TABLE t ALTER COLUMN c SET DEFAULT 2;",
         "2", COLUMN_NULL_ANY},
        {"ALTER TABLE t ADD COLUMN c int DEFAULT 1;\nALTER TABLE t ALTER COLUMN c DROP DEFAULT;",
         NULL, COLUMN_NULL_ANY},
        {"ALTER TABLE t ADD COLUMN c int DEFAULT 0;\nALTER TABLE t ALTER COLUMN c SET NOT NULL;",
         "0", COLUMN_NOT_NULL},
        {"ALTER TABLE t ADD COLUMN c int NOT NULL DEFAULT 0;\nALTER TABLE t ALTER COLUMN c DROP "
         "NOT NULL;",
         "0", COLUMN_NULLABLE},
        {"ALTER TABLE t ADD COLUMN c int NOT NULL DEFAULT 0;\nALTER TABLE t ALTER COLUMN c DROP "
         "NOT NULL;\nALTER TABLE t ALTER COLUMN c SET NOT NULL;",
         "0", COLUMN_NOT_NULL},
        /* another column, another table, another schema: not this one */
        {"ALTER TABLE t ADD COLUMN c int DEFAULT 1;\nALTER TABLE t ALTER COLUMN d SET DEFAULT 2;\n"
         "ALTER TABLE u ALTER COLUMN c SET NOT NULL;",
         "1", COLUMN_NULL_ANY},
        {"ALTER TABLE a.t ADD COLUMN c int DEFAULT 1;\nALTER TABLE b.t ALTER COLUMN c SET DEFAULT "
         "2;\nALTER TABLE t ALTER COLUMN c SET NOT NULL;",
         "1", COLUMN_NOT_NULL},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        migration_t m;
        parse_error_t err;
        const char *got;
        if (!migration_parse("m.sql", cases[i].sql, &m, &err))
            fail_msg("case %zu: %s", i, err.message);
        assert_true(m.n_actions >= 1);
        assert_int_equal(m.actions[0].kind, ACT_ADD_COLUMN);
        got = migration_final_default(&m, 0);
        if (cases[i].dflt == NULL ? got != NULL : got == NULL || strcmp(got, cases[i].dflt) != 0)
            fail_msg("case %zu: default %s, want %s", i, got ? got : "none",
                     cases[i].dflt ? cases[i].dflt : "none");
        if (migration_final_nullability(&m, 0) != cases[i].nullability)
            fail_msg("case %zu: nullability %d, want %d", i,
                     (int)migration_final_nullability(&m, 0), (int)cases[i].nullability);
        migration_free(&m);
    }
}

int
main(void)
{
    const struct CMUnitTest misc[] = {
        cmocka_unit_test(test_cache_directives),
        cmocka_unit_test(test_clip_len),
        cmocka_unit_test(test_long_utf8_names),
        cmocka_unit_test(test_bom_checksum),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_directive_placement),
        cmocka_unit_test(test_flag_directives),
        cmocka_unit_test(test_positions_after_block_comments),
        cmocka_unit_test(test_long_flat_lists),
        cmocka_unit_test(test_parse_40k_statements),
        cmocka_unit_test(test_final_column),
    };
    enum { N_INPUT = sizeof(input_cases) / sizeof(input_cases[0]) };
    struct CMUnitTest inputs[N_INPUT];
    int failed = 0;

    for (size_t i = 0; i < N_INPUT; i++) {
        inputs[i] = (struct CMUnitTest){input_cases[i].name, run_input_case, NULL, NULL,
                                        (void *)&input_cases[i]};
    }
    failed += _cmocka_run_group_tests("input", inputs, N_INPUT, NULL, NULL);
    failed += cmocka_run_group_tests_name("migfile", misc, NULL, NULL);
    return failed;
}
