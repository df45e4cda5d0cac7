/*
 * test_keybatch.c: agent/keybatch.c. The split cases are PostgreSQL text[] outputs (as
 * array_out writes them: quotes, backslash escapes, NULL, nested braces, dimensions) and
 * malformed ones; each gives the keys it must produce, or failure. The RESP cases compare
 * keybatch_resp with hiredis' own formatter over fixed and random binary arguments.
 */
#include "keybatch.h"

#include <hiredis.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#define MAX_KEYS 8
#define FAIL     ((const char *)-1) /* keys[0] of a case that must not parse */

typedef struct {
    const char *in;
    const char *keys[MAX_KEYS + 1]; /* NULL-terminated; FAIL: the split must fail */
} split_case_t;

static const split_case_t split_cases[] = {
    {"{user:1,user:2,user:3}", {"user:1", "user:2", "user:3", NULL}},
    {"{}", {NULL}},
    {"{a}", {"a", NULL}},
    {"{\"a b\",\"c,d\"}", {"a b", "c,d", NULL}},
    {"{\"say \\\"hi\\\"\",\"back\\\\slash\"}", {"say \"hi\"", "back\\slash", NULL}},
    {"{\"\"}", {"", NULL}},
    {"{NULL,x,null,\"NULL\"}", {"x", "NULL", NULL}},
    {"{{a,b},{c,d}}", {"a", "b", "c", "d", NULL}},
    {"[0:1]={a,b}", {"a", "b", NULL}},
    {"{\"{x}\",y}", {"{x}", "y", NULL}},
    {"{user:\xc3\xa9t\xc3\xa9}", {"user:\xc3\xa9t\xc3\xa9", NULL}},
    {"{\"a\"}", {"a", NULL}},
    {"{\"\\\\\"}", {"\\", NULL}},
    /* not a text[] output */
    {"", {FAIL}},
    {"abc", {FAIL}},
    {"{a", {FAIL}},
    {"{a}x", {FAIL}},
    {"{\"a}", {FAIL}},
    {"{a\"b\"}", {FAIL}},
    {"[0:1]", {FAIL}},
    {"{a,{b}", {FAIL}},
    {"{a}}", {FAIL}},
};

static void
test_split(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof(split_cases) / sizeof(split_cases[0]); c++) {
        const split_case_t *sc = &split_cases[c];
        char *buf = xstrdup(sc->in);
        char **keys = (char **)0x1;
        size_t *lens = (size_t *)0x1, n = 99, want = 0;
        bool ok = keybatch_split(buf, &keys, &lens, &n);

        if (sc->keys[0] == FAIL) {
            if (ok)
                fail_msg("case %zu `%s`: parsed, must fail", c, sc->in);
            assert_null(keys);
            assert_null(lens);
            assert_int_equal(n, 0);
            free(buf);
            continue;
        }
        if (!ok)
            fail_msg("case %zu `%s`: failed, must parse", c, sc->in);
        while (sc->keys[want])
            want++;
        if (n != want)
            fail_msg("case %zu `%s`: %zu keys, want %zu", c, sc->in, n, want);
        for (size_t i = 0; i < n; i++) {
            /* each key is its length and NUL-terminated inside the buffer */
            if (lens[i] != strlen(sc->keys[i]) || memcmp(keys[i], sc->keys[i], lens[i]) != 0 ||
                keys[i][lens[i]] != '\0')
                fail_msg("case %zu `%s`: key %zu is `%.*s`, want `%s`", c, sc->in, i, (int)lens[i],
                         keys[i], sc->keys[i]);
            assert_true(keys[i] >= buf && keys[i] + lens[i] <= buf + strlen(sc->in));
        }
        free(keys);
        free(lens);
        free(buf);
    }
}

/* A big row: 30,000 keys, as one fill-pass batch writes them. */
static void
test_split_many(void **state)
{
    sb_t sb;
    char **keys;
    size_t *lens, n;
    char want[32];

    (void)state;
    sb_init(&sb);
    sb_putc(&sb, '{');
    for (int i = 1; i <= 30000; i++)
        sb_printf(&sb, "%s%suser:%d%s", i > 1 ? "," : "", i % 7 ? "" : "\"", i, i % 7 ? "" : "\"");
    sb_putc(&sb, '}');
    assert_true(keybatch_split(sb.data, &keys, &lens, &n));
    assert_int_equal(n, 30000);
    for (size_t i = 0; i < n; i++) {
        snprintf(want, sizeof(want), "user:%zu", i + 1);
        assert_int_equal(lens[i], strlen(want));
        assert_string_equal(keys[i], want);
    }
    free(keys);
    free(lens);
    sb_free(&sb);
}

static void
check_resp(const char *name, char *const *args, const size_t *lens, size_t n)
{
    const char **argv = xcalloc(n + 1, sizeof(*argv));
    size_t *argvlen = xcalloc(n + 1, sizeof(*argvlen));
    char *ref = NULL;
    long long ref_len;
    sb_t sb;

    argv[0] = name;
    argvlen[0] = strlen(name);
    for (size_t i = 0; i < n; i++) {
        argv[i + 1] = args[i];
        argvlen[i + 1] = lens[i];
    }
    ref_len = redisFormatCommandArgv(&ref, (int)(n + 1), argv, argvlen);
    assert_true(ref_len > 0);
    sb_init(&sb);
    sb_puts(&sb, "prefix");
    keybatch_resp(&sb, name, strlen(name), args, lens, n);
    assert_int_equal(sb.len, 6 + (size_t)ref_len);
    assert_memory_equal(sb.data, "prefix", 6);
    assert_memory_equal(sb.data + 6, ref, (size_t)ref_len);
    sb_free(&sb);
    redisFreeCommand(ref);
    free(argv);
    free(argvlen);
}

static void
test_resp(void **state)
{
    char *fixed[] = {"user:1", "", "a\r\nb", "x"};
    size_t fixed_lens[] = {6, 0, 4, 1};
    char bin[3] = {'a', '\0', 'b'};
    char *bins[] = {bin};
    size_t bin_lens[] = {3};
    unsigned seed = 12345;

    (void)state;
    check_resp("UNLINK", fixed, fixed_lens, 4);
    check_resp("PING", NULL, NULL, 0);
    check_resp("INCR", bins, bin_lens, 1);
    for (int round = 0; round < 50; round++) {
        size_t n = (size_t)(rand_r(&seed) % 1200);
        char **args = xcalloc(n ? n : 1, sizeof(*args));
        size_t *lens = xcalloc(n ? n : 1, sizeof(*lens));
        for (size_t i = 0; i < n; i++) {
            lens[i] = (size_t)(rand_r(&seed) % (i % 97 == 0 ? 20000 : 40));
            args[i] = xmalloc(lens[i] + 1);
            for (size_t j = 0; j < lens[i]; j++)
                args[i][j] = (char)(rand_r(&seed) & 0xff);
        }
        check_resp("UNLINK", args, lens, n);
        for (size_t i = 0; i < n; i++)
            free(args[i]);
        free(args);
        free(lens);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_split_many),
        cmocka_unit_test(test_resp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
