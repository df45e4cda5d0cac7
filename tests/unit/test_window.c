/* test_window.c: maintenance windows: parsing, inside or not, next opening (table-driven). */
#include "convoy/window.h"

#include <stdbool.h>
#include <stdio.h>
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
    const char *spec;
    const char *now; /* ISO 8601 */
    bool inside;
    const char *next;   /* the next opening (ISO 8601, UTC), or NULL when inside */
    const char *closes; /* inside: when it closes (ISO 8601, UTC) */
    const char *shown;  /* window_format_time of the next opening (or NULL: skip) */
} window_case_t;

/* 2026-12-05 is a Saturday; 2026-12-01 a Tuesday. */
static const window_case_t cases[] = {
    /* same day, before, inside, at the edges, after */
    {"Sat 02:00-04:00 UTC", "2026-12-05T01:59:59Z", false, "2026-12-05T02:00:00Z", NULL,
     "Sat 2026-12-05 02:00 UTC"},
    {"Sat 02:00-04:00 UTC", "2026-12-05T02:00:00Z", true, NULL, "2026-12-05T04:00:00Z", NULL},
    {"Sat 02:00-04:00 UTC", "2026-12-05T03:59:59Z", true, NULL, "2026-12-05T04:00:00Z", NULL},
    {"Sat 02:00-04:00 UTC", "2026-12-05T04:00:00Z", false, "2026-12-12T02:00:00Z", NULL,
     "Sat 2026-12-12 02:00 UTC"},
    /* across the week: Tuesday to Saturday */
    {"Sat 02:00-04:00 UTC", "2026-12-01T14:50:00Z", false, "2026-12-05T02:00:00Z", NULL, NULL},
    /* across the year boundary: Thu 2026-12-31 -> Sat 2027-01-02 */
    {"Sat 02:00-04:00 UTC", "2026-12-31T23:00:00Z", false, "2027-01-02T02:00:00Z", NULL,
     "Sat 2027-01-02 02:00 UTC"},
    /* a window across midnight belongs to the day it opens on */
    {"Fri 23:00-01:00 UTC", "2026-12-05T00:30:00Z", true, NULL, "2026-12-05T01:00:00Z", NULL},
    {"Fri 23:00-01:00 UTC", "2026-12-05T01:00:00Z", false, "2026-12-11T23:00:00Z", NULL, NULL},
    /* across the week boundary: Sat 23:00 to Sun 01:00, asked on Sunday 00:10 */
    {"Sat 23:00-01:00 UTC", "2026-12-06T00:10:00Z", true, NULL, "2026-12-06T01:00:00Z", NULL},
    {"Sat 23:00-01:00 UTC", "2026-12-06T01:10:00Z", false, "2026-12-12T23:00:00Z", NULL, NULL},
    /* day ranges, lists, wrapping ranges, daily */
    {"Mon-Fri 22:00-23:00 UTC", "2026-12-05T12:00:00Z", false, "2026-12-07T22:00:00Z", NULL, NULL},
    {"Mon-Fri 22:00-23:00 UTC", "2026-12-02T22:30:00Z", true, NULL, "2026-12-02T23:00:00Z", NULL},
    {"Sat,Sun 10:00-11:00 UTC", "2026-12-05T11:00:00Z", false, "2026-12-06T10:00:00Z", NULL, NULL},
    {"Fri-Mon 10:00-11:00 UTC", "2026-12-08T09:00:00Z", false, "2026-12-11T10:00:00Z", NULL, NULL},
    {"daily 01:00-03:00 UTC", "2026-12-01T03:00:00Z", false, "2026-12-02T01:00:00Z", NULL, NULL},
    {"* 00:00-24:00 UTC", "2026-12-01T03:00:00Z", true, NULL, "2026-12-02T00:00:00Z", NULL},
    /* fixed offsets: local Saturday 02:00 at +02:00 is Friday 24:00 UTC */
    {"Sat 02:00-04:00 +02:00", "2026-12-04T23:59:00Z", false, "2026-12-05T00:00:00Z", NULL,
     "Sat 2026-12-05 02:00 +02:00"},
    {"Sat 02:00-04:00 UTC+02:00", "2026-12-05T01:00:00Z", true, NULL, "2026-12-05T02:00:00Z", NULL},
    /* -05:00: local Saturday 02:00 is Saturday 07:00 UTC; local Friday evening is Saturday UTC */
    {"Sat 02:00-04:00 -05:00", "2026-12-05T06:00:00Z", false, "2026-12-05T07:00:00Z", NULL,
     "Sat 2026-12-05 02:00 -05:00"},
    {"Fri 20:00-22:00 -0500", "2026-12-05T02:00:00Z", true, NULL, "2026-12-05T03:00:00Z", NULL},
    /* a fixed offset moves the local day across the week boundary */
    {"Sun 01:00-02:00 +09:00", "2026-12-05T16:30:00Z", true, NULL, "2026-12-05T17:00:00Z", NULL},
    /* long day names, ISO offsets on the clock */
    {"Saturday 02:00-04:00 UTC", "2026-12-05T05:00:00+02:00", true, NULL, "2026-12-05T04:00:00Z",
     NULL},
};

static void
test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const window_case_t *c = &cases[i];
        window_t w;
        char err[512], shown[64];
        int64_t now, want;

        if (!window_parse(c->spec, &w, err, sizeof(err)))
            fail_msg("case %zu '%s': %s", i, c->spec, err);
        assert_true(window_parse_iso8601(c->now, &now));
        if (window_contains(&w, now) != c->inside)
            fail_msg("case %zu '%s' at %s: inside expected %d", i, c->spec, c->now, c->inside);
        if (c->inside) {
            assert_int_equal(window_next_open(&w, now), now);
            assert_true(window_parse_iso8601(c->closes, &want));
            if (window_close_after(&w, now) != want)
                fail_msg("case %zu: closes %lld, expected %s", i,
                         (long long)window_close_after(&w, now), c->closes);
        } else {
            int64_t got = window_next_open(&w, now);
            assert_true(window_parse_iso8601(c->next, &want));
            if (got != want)
                fail_msg("case %zu '%s' at %s: next open %lld, expected %s (%lld)", i, c->spec,
                         c->now, (long long)got, c->next, (long long)want);
            assert_true(window_contains(&w, got));
            assert_false(window_contains(&w, got - 1));
            if (c->shown) {
                window_format_time(&w, got, shown, sizeof(shown));
                assert_string_equal(shown, c->shown);
            }
        }
    }
}

typedef struct {
    const char *spec;
    const char *says; /* part of the error */
} bad_case_t;

static const bad_case_t bad[] = {
    {"", "nothing given"},
    {"Sat", "bad start time"},
    {"Sat 2:00-04:00 UTC", "bad start time"},
    {"Sat 02:00 04:00 UTC", "missing '-'"},
    {"Sat 02:00-25:00 UTC", "bad end time"},
    {"Sat 24:00-02:00 UTC", "bad start time"},
    {"Sat 02:00-04:00", "missing time zone"},
    {"Sat 02:00-04:00 Europe/Paris", "unknown time zone"},
    {"Sat 02:00-04:00 +15:00", "unknown time zone"},
    {"Sat 02:00-04:00 UTC extra", "unknown time zone"},
    {"Caturday 02:00-04:00 UTC", "unknown days"},
    {"Sat, 02:00-04:00 UTC", "unknown days"},
    {"Mon-Xyz 02:00-04:00 UTC", "unknown days"},
};

static void
test_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        window_t w;
        char err[512] = "";
        if (window_parse(bad[i].spec, &w, err, sizeof(err)))
            fail_msg("case %zu '%s' parsed", i, bad[i].spec);
        if (strstr(err, bad[i].says) == NULL || strstr(err, "Sat 02:00-04:00 UTC") == NULL)
            fail_msg("case %zu '%s': error '%s' lacks '%s' or the example", i, bad[i].spec, err,
                     bad[i].says);
    }
}

static void
test_iso(void **state)
{
    int64_t t;
    (void)state;
    assert_true(window_parse_iso8601("1970-01-01T00:00:00Z", &t));
    assert_int_equal(t, 0);
    assert_true(window_parse_iso8601("2026-12-01 14:50", &t));
    assert_int_equal(t, 1796136600);
    assert_true(window_parse_iso8601("2026-12-01T16:50:00+02:00", &t));
    assert_int_equal(t, 1796136600);
    assert_false(window_parse_iso8601("2026-13-01T00:00:00Z", &t));
    assert_false(window_parse_iso8601("yesterday", &t));
    assert_false(window_parse_iso8601("2026-12-01T00:00:00 Paris", &t));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_iso),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
