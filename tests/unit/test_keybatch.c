/*
 * test_keybatch.c: agent/keybatch.c. The binary cases are text[] values laid out as
 * array_send writes them (NULLs, several dimensions, empty arrays, bytes that text output
 * would quote) and malformed ones (other element types, sizes the bytes cannot hold,
 * trailing bytes, and every truncation of each good case); each gives the keys it must
 * produce, or failure. The RESP cases compare
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
#define NUL_KEY  ((const char *)-2) /* an element that is NULL */
#define TEXT_OID 25

/* An array_send value, built from its parts (the encoder the tests read back). */
typedef struct {
    uint32_t ndim, flags, oid;
    uint32_t dims[3];
    const char *elems[MAX_KEYS + 1]; /* NULL-terminated; NUL_KEY: a NULL element */
    const char *want[MAX_KEYS + 1];  /* NULL-terminated keys; FAIL: must not parse */
} bin_case_t;

#define FAIL ((const char *)-1)

static const bin_case_t bin_cases[] = {
    {1, 0, TEXT_OID, {3}, {"user:1", "user:2", "user:3"}, {"user:1", "user:2", "user:3"}},
    {0, 0, TEXT_OID, {0}, {NULL}, {NULL}}, /* '{}' */
    {1, 0, TEXT_OID, {1}, {""}, {""}},     /* an empty key */
    {1,
     0,
     TEXT_OID,
     {4},
     {"a b", "c,d", "say \"hi\"", "back\\slash"}, /* nothing is escaped */
     {"a b", "c,d", "say \"hi\"", "back\\slash"}},
    {1, 1, TEXT_OID, {4}, {NUL_KEY, "x", NUL_KEY, "NULL"}, {"x", "NULL"}},
    {2, 0, TEXT_OID, {2, 2}, {"a", "b", "c", "d"}, {"a", "b", "c", "d"}}, /* flattened */
    {3, 0, TEXT_OID, {1, 2, 1}, {"{x}", "y"}, {"{x}", "y"}},
    {2, 0, TEXT_OID, {0, 5}, {NULL}, {NULL}},
    {1, 0, TEXT_OID, {1}, {"user:\xc3\xa9t\xc3\xa9"}, {"user:\xc3\xa9t\xc3\xa9"}},
    /* not a text[] value */
    {1, 0, 1043, {1}, {"a"}, {FAIL}},                /* varchar[] */
    {1, 0, 23, {1}, {"abcd"}, {FAIL}},               /* int4[] */
    {1, 2, TEXT_OID, {1}, {"a"}, {FAIL}},            /* flags other than has-nulls */
    {7, 0, TEXT_OID, {1}, {"a"}, {FAIL}},            /* more than MAXDIM dimensions */
    {1, 0, TEXT_OID, {2}, {"a"}, {FAIL}},            /* fewer elements than its size */
    {1, 0, TEXT_OID, {1}, {"a", "b"}, {FAIL}},       /* trailing bytes */
    {2, 0, TEXT_OID, {65536, 65536}, {"a"}, {FAIL}}, /* a size the bytes cannot hold */
    {1, 0, TEXT_OID, {0xffffffffu}, {"a"}, {FAIL}},
};

static void
put32(sb_t *sb, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    sb_putn(sb, (const char *)b, 4);
}

static void
encode(sb_t *sb, const bin_case_t *bc)
{
    put32(sb, bc->ndim);
    put32(sb, bc->flags);
    put32(sb, bc->oid);
    for (uint32_t d = 0; d < bc->ndim; d++) {
        put32(sb, d < 3 ? bc->dims[d] : 1);
        put32(sb, 1); /* lower bound */
    }
    for (size_t i = 0; bc->elems[i]; i++) {
        if (bc->elems[i] == NUL_KEY) {
            put32(sb, UINT32_MAX);
            continue;
        }
        put32(sb, (uint32_t)strlen(bc->elems[i]));
        sb_puts(sb, bc->elems[i]);
    }
}

/* Parses v (len bytes, copied so that ASan sees any read past its end); NULL when it fails. */
static bool
parse(const char *v, size_t len, char **buf, char ***keys, size_t **lens, size_t *n)
{
    char *copy = xmalloc(len ? len : 1);
    bool ok;

    memcpy(copy, v, len);
    *keys = (char **)0x1;
    *lens = (size_t *)0x1;
    *n = 99;
    ok = keybatch_from_binary(copy, len, buf, keys, lens, n);
    free(copy);
    if (!ok) {
        assert_null(*buf);
        assert_null(*keys);
        assert_null(*lens);
        assert_int_equal(*n, 0);
    }
    return ok;
}

static void
test_from_binary(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof(bin_cases) / sizeof(bin_cases[0]); c++) {
        const bin_case_t *bc = &bin_cases[c];
        char *buf, **keys;
        size_t *lens, n, want = 0;
        sb_t sb;
        bool ok;

        sb_init(&sb);
        encode(&sb, bc);
        ok = parse(sb.data, sb.len, &buf, &keys, &lens, &n);
        if (bc->want[0] == FAIL) {
            if (ok)
                fail_msg("case %zu: parsed, must fail", c);
            sb_free(&sb);
            continue;
        }
        if (!ok)
            fail_msg("case %zu: failed, must parse", c);
        while (bc->want[want])
            want++;
        if (n != want)
            fail_msg("case %zu: %zu keys, want %zu", c, n, want);
        for (size_t i = 0; i < n; i++) /* each key is its length and NUL-terminated */
            if (lens[i] != strlen(bc->want[i]) || memcmp(keys[i], bc->want[i], lens[i]) != 0 ||
                keys[i][lens[i]] != '\0')
                fail_msg("case %zu: key %zu is `%.*s`, want `%s`", c, i, (int)lens[i], keys[i],
                         bc->want[i]);
        /* every strict prefix is a truncated value */
        for (size_t cut = 0; cut < sb.len; cut++) {
            char *b2, **k2;
            size_t *l2, n2;
            if (parse(sb.data, cut, &b2, &k2, &l2, &n2))
                fail_msg("case %zu: parsed cut to %zu of %zu bytes", c, cut, sb.len);
        }
        free(buf);
        free(keys);
        free(lens);
        sb_free(&sb);
    }
}

/* A big row: 30,000 keys, as one fill-pass batch writes them. */
static void
test_from_binary_many(void **state)
{
    sb_t sb;
    char *buf, **keys, want[32];
    size_t *lens, n;

    (void)state;
    sb_init(&sb);
    put32(&sb, 1);
    put32(&sb, 0);
    put32(&sb, TEXT_OID);
    put32(&sb, 30000);
    put32(&sb, 1);
    for (int i = 1; i <= 30000; i++) {
        snprintf(want, sizeof(want), "user:%d", i);
        put32(&sb, (uint32_t)strlen(want));
        sb_puts(&sb, want);
    }
    assert_true(parse(sb.data, sb.len, &buf, &keys, &lens, &n));
    assert_int_equal(n, 30000);
    for (size_t i = 0; i < n; i++) {
        snprintf(want, sizeof(want), "user:%zu", i + 1);
        assert_int_equal(lens[i], strlen(want));
        assert_string_equal(keys[i], want);
    }
    free(buf);
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
        cmocka_unit_test(test_from_binary),
        cmocka_unit_test(test_from_binary_many),
        cmocka_unit_test(test_resp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
