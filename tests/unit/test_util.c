/* test_util.c: strict number and duration parsing, SQL quoting and duration formatting. */
#include "convoy/util.h"

#include <stdbool.h>
#include <stdio.h>
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

typedef struct {
    const char *in;
    bool ok;
    int64_t ms;
} duration_case_t;

static const duration_case_t duration_cases[] = {
    /* valid */
    {"50ms", true, 50},
    {"2s", true, 2000},
    {"1.5s", true, 1500},
    {"3m", true, 180000},
    {"250", true, 250},
    {"0", true, 0},
    {"0ms", true, 0},
    {"1h", true, 3600000},
    {"2min", true, 120000},
    {"1sec", true, 1000},
    {"0.25s", true, 250},
    {"1.0006s", true, 1001}, /* rounded to the nearest millisecond */
    {"0.4ms", true, 0},
    {"50 ms", true, 50},
    {" 50ms", true, 50},
    {"50ms  ", true, 50},
    {"10000ms", true, 10000},
    {"24h", true, 86400000},
    /* invalid */
    {"", false, 0},
    {"   ", false, 0},
    {"ms", false, 0},
    {"s", false, 0},
    {"-5ms", false, 0},
    {"-0", false, 0},
    {"+5ms", false, 0},
    {"5 parsecs", false, 0},
    {"5msx", false, 0},
    {"5 m s", false, 0},
    {"5ms5", false, 0},
    {"5,5s", false, 0},
    {"abc", false, 0},
    {"inf", false, 0},
    {"nan", false, 0},
    {"1e400", false, 0},
    {"5d", false, 0},
    {"5S", false, 0},
    {"9223372036854775807", false, 0},
    {"1.5.5s", false, 0},
};

/* Text from outside made safe: printable as is, the rest escaped, cut with "...". */
static void
test_text_excerpt(void **state)
{
    char buf[64];

    (void)state;
    assert_string_equal(text_excerpt("abc", 3, 32, buf, sizeof(buf)), "abc");
    assert_string_equal(text_excerpt("a\nb\xff", 4, 32, buf, sizeof(buf)), "a\\x0ab\\xff");
    assert_string_equal(text_excerpt("abcdef", 6, 3, buf, sizeof(buf)), "abc...");
    assert_string_equal(text_excerpt(NULL, 0, 32, buf, sizeof(buf)), "");
    assert_string_equal(text_excerpt("abcdefghij", 10, 100, buf, 8), "abc");
}

static void
test_parse_duration(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(duration_cases) / sizeof(duration_cases[0]); i++) {
        const duration_case_t *tc = &duration_cases[i];
        int64_t ms = -12345;
        bool ok = parse_duration_ms(tc->in, &ms);

        if (ok != tc->ok)
            fail_msg("parse_duration_ms(\"%s\") returned %d, expected %d", tc->in, ok, tc->ok);
        if (ok && ms != tc->ms)
            fail_msg("parse_duration_ms(\"%s\") = %lld ms, expected %lld", tc->in, (long long)ms,
                     (long long)tc->ms);
        if (!ok && ms != -12345)
            fail_msg("parse_duration_ms(\"%s\") failed but wrote its output", tc->in);
    }
    assert_false(parse_duration_ms(NULL, &(int64_t){0}));
}

typedef struct {
    const char *in;
    int64_t min, max;
    bool ok;
    int64_t value;
} int_case_t;

static const int_case_t int_cases[] = {
    {"0", 0, 10, true, 0},
    {"10", 0, 10, true, 10},
    {"11", 0, 10, false, 0},
    {"-1", 0, 10, false, 0},
    {"-1", -5, 5, true, -1},
    {"-5", -5, 5, true, -5},
    {"-6", -5, 5, false, 0},
    {"1", 1, 1, true, 1},
    {"9223372036854775807", INT64_MIN, INT64_MAX, true, INT64_MAX},
    {"-9223372036854775808", INT64_MIN, INT64_MAX, true, INT64_MIN},
    {"9223372036854775808", INT64_MIN, INT64_MAX, false, 0},
    {"-9223372036854775809", INT64_MIN, INT64_MAX, false, 0},
    {"99999999999999999999", INT64_MIN, INT64_MAX, false, 0},
    {"007", 0, 10, true, 7},
    {"", 0, 10, false, 0},
    {"5 ", 0, 10, false, 0},
    {"5x", 0, 10, false, 0},
    {"0x10", 0, 100, false, 0},
    {"1e3", 0, 10000, false, 0},
    {"1.0", 0, 10, false, 0},
    {"-", 0, 10, false, 0},
    {"abc", 0, 10, false, 0},
};

static void
test_parse_int64(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(int_cases) / sizeof(int_cases[0]); i++) {
        const int_case_t *tc = &int_cases[i];
        int64_t v = 4242;
        bool ok = parse_int64(tc->in, tc->min, tc->max, &v);

        if (ok != tc->ok)
            fail_msg("parse_int64(\"%s\", %lld, %lld) returned %d, expected %d", tc->in,
                     (long long)tc->min, (long long)tc->max, ok, tc->ok);
        if (ok && v != tc->value)
            fail_msg("parse_int64(\"%s\") = %lld, expected %lld", tc->in, (long long)v,
                     (long long)tc->value);
        if (!ok && v != 4242)
            fail_msg("parse_int64(\"%s\") failed but wrote its output", tc->in);
    }
    assert_false(parse_int64(NULL, 0, 10, &(int64_t){0}));
}

static void
test_format_duration(void **state)
{
    static const struct {
        int64_t ms;
        const char *out;
    } cases[] = {
        {-1, "unknown"},        {-5000, "unknown"},       {0, "0 ms"},
        {35, "35 ms"},          {999, "999 ms"},          {1000, "1.0 s"},
        {4200, "4.2 s"},        {12345, "12.3 s"},        {60000, "1 min 0 s"},
        {190000, "3 min 10 s"}, {3599999, "59 min 59 s"}, {3600000, "1 h 0 min"},
        {7500000, "2 h 5 min"}, {90061000, "25 h 1 min"},
    };
    char buf[64];
    char tiny[5];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        format_duration(cases[i].ms, buf, sizeof(buf));
        if (strcmp(buf, cases[i].out) != 0)
            fail_msg("format_duration(%lld) = \"%s\", expected \"%s\"", (long long)cases[i].ms, buf,
                     cases[i].out);
    }
    /* A short buffer truncates and stays terminated. */
    memset(tiny, 'x', sizeof(tiny));
    format_duration(190000, tiny, sizeof(tiny));
    assert_string_equal(tiny, "3 mi");
}

static void
test_sha256_hex(void **state)
{
    char out[65];

    (void)state;
    sha256_hex("", 0, out);
    assert_string_equal(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha256_hex("abc", 3, out);
    assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void
test_read_be(void **state)
{
    static const struct {
        const char *bytes;
        size_t n;
        uint64_t want;
    } cases[] = {
        {"", 0, 0},
        {"\x7f", 1, 0x7f},
        {"\x00\x00\x00\x19", 4, 25},         /* text's oid, as array_send writes it */
        {"\xff\xff\xff\xff", 4, UINT32_MAX}, /* a NULL element's length */
        {"\x12\x34\x56\x78\x9a\xbc\xde\xf0", 8, 0x123456789abcdef0}, /* a bigint */
        {"\xff\xff\xff\xff\xff\xff\xff\xfe", 8, UINT64_MAX - 1},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_true(read_be(cases[i].bytes, cases[i].n) == cases[i].want);
    assert_int_equal((int64_t)read_be("\xff\xff\xff\xff\xff\xff\xff\xff", 8), -1);
}

static void
test_string_buffer(void **state)
{
    sb_t sb;
    char *s;

    (void)state;
    sb_init(&sb);
    for (int i = 0; i < 1000; i++)
        sb_printf(&sb, "%d,", i % 10);
    assert_int_equal(sb.len, 2000);
    assert_int_equal(strlen(sb.data), 2000);
    sb_putn(&sb, "abc", 2);
    sb_putc(&sb, '!');
    s = sb_steal(&sb);
    assert_null(sb.data);
    assert_string_equal(s + 2000, "ab!");
    free(s);
    s = xasprintf("%s-%03d", "x", 7);
    assert_string_equal(s, "x-007");
    free(s);
    s = xstrndup("abcdef", 3);
    assert_string_equal(s, "abc");
    free(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_duration),  cmocka_unit_test(test_parse_int64),
        cmocka_unit_test(test_format_duration), cmocka_unit_test(test_sha256_hex),
        cmocka_unit_test(test_string_buffer),   cmocka_unit_test(test_text_excerpt),
        cmocka_unit_test(test_read_be),
    };
    return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
