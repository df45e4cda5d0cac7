/*
 * test_agent_rate.c: role = app, the error rate (agent/health.c). Each rate case is a list of
 * steps on one rate_t: push a count at a time (and the push's outcome), or only ask, then
 * the rate rate_value must give at that time. The counter's text is a table of its own, and
 * health_read_counter runs against real files (a missing one, a directory, a FIFO, ...).
 */
#include "health.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#define MAX_STEPS 24
#define END       INT64_MIN /* the end of a case's steps */
#define ASK       (-1)      /* a step that only asks (no push) */
#define U         RATE_UNKNOWN

typedef struct {
    int64_t t;   /* the monotonic time of the step (END: no more steps) */
    uint64_t n;  /* the count pushed */
    int push;    /* the rate_push_t it must return, or ASK */
    double rate; /* what rate_value gives at t afterwards (U: unknown) */
} step_t;

typedef struct {
    const char *name;
    int64_t window_ms;
    step_t steps[MAX_STEPS];
} rate_case_t;

#define P RATE_PUSHED
#define R RATE_RESET
#define X RATE_REPLACED

static const rate_case_t rate_cases[] = {
    {"no samples, one sample: unknown", 1000, {{0, 0, ASK, U}, {0, 7, P, U}, {END, 0, 0, 0}}},
    {"a steady count: 0 errors/s from the second sample on",
     1000,
     {{0, 5, P, U}, {100, 5, P, 0}, {200, 5, P, 0}, {1100, 5, P, 0}, {END, 0, 0, 0}}},
    {"one error every 100 ms: 10/s",
     1000,
     {{0, 0, P, U},
      {100, 1, P, 10},
      {200, 2, P, 10},
      {300, 3, P, 10},
      {1000, 10, P, 10},
      {1100, 11, P, 10},
      {END, 0, 0, 0}}},
    {"a burst of 50: the rate over the window, then back to 0 once it leaves the window",
     1000,
     {{0, 0, P, U},
      {100, 0, P, 0},
      {200, 0, P, 0},
      {300, 0, P, 0},
      {400, 0, P, 0},
      {500, 50, P, 100}, /* 50 over the 500 ms since t=0 */
      {600, 50, P, 500.0 / 6},
      {1000, 50, P, 50}, /* t=0 is still in the window: 50 over 1 s */
      {1100, 50, P, 50}, /* from t=100 */
      {1400, 50, P, 50}, /* from t=400, the last sample before the burst */
      {1500, 50, P, 0},  /* from t=500: no errors since */
      {1600, 50, P, 0},
      {END, 0, 0, 0}}},
    {"the oldest sample within the window, not before it",
     1000,
     {{0, 0, P, U},
      {300, 30, P, 100},
      {1200, 30, P, 0},                 /* t=0 has left the window: from t=300 */
      {1301, 40, P, 10.0 * 1000 / 101}, /* t=300 has left by 1 ms: from t=1200 */
      {END, 0, 0, 0}}},
    {"the counter goes down (an app restart): reset, unknown once, then a new rate",
     1000,
     {{0, 100, P, U},
      {100, 110, P, 100},
      {200, 3, R, U},
      {300, 4, P, 10},
      {400, 6, P, 15},
      {END, 0, 0, 0}}},
    {"down to 0 and up again",
     1000,
     {{0, 9, P, U}, {100, 0, R, U}, {200, 0, P, 0}, {END, 0, 0, 0}}},
    {"the same millisecond twice: the newest count is replaced",
     1000,
     {{0, 0, P, U}, {100, 1, P, 10}, {100, 2, X, 20}, {200, 3, P, 15}, {END, 0, 0, 0}}},
    {"the same millisecond with a lower count is still a reset",
     1000,
     {{0, 5, P, U}, {100, 6, P, 10}, {100, 1, R, U}, {END, 0, 0, 0}}},
    {"the clock going back resets too", 1000, {{100, 5, P, U}, {50, 6, R, U}, {END, 0, 0, 0}}},
    {"a gap longer than the window: unknown until two samples are in it again",
     1000,
     {{0, 0, P, U}, {100, 1, P, 10}, {5000, 9, P, U}, {5100, 10, P, 10}, {END, 0, 0, 0}}},
    {"asking later without new samples: the rate of the samples still in the window, then "
     "unknown",
     1000,
     {{0, 0, P, U},
      {100, 10, P, 100},
      {200, 20, P, 100},
      {1000, 0, ASK, 100}, /* t=0 to t=200 are all still in [0, 1000]: from t=0 */
      {1050, 0, ASK, 100}, /* from t=100 */
      {1150, 0, ASK, U},   /* only t=200, the newest, is left */
      {END, 0, 0, 0}}},
    {"a slow heartbeat (2 s): a 3 s window still has two samples",
     3000,
     {{0, 0, P, U}, {2000, 4, P, 2}, {4000, 6, P, 1}, {6000, 6, P, 0}, {END, 0, 0, 0}}},
    {"a 1 s heartbeat, 1.5 s window: the rate over the last interval or two",
     1500,
     {{0, 0, P, U}, {1000, 3, P, 3}, {2000, 5, P, 2}, {3000, 5, P, 0}, {END, 0, 0, 0}}},
    {"counts near UINT64_MAX",
     1000,
     {{0, UINT64_MAX - 10, P, U}, {1000, UINT64_MAX, P, 10}, {END, 0, 0, 0}}},
    {"fractions: 1 error over 700 ms",
     1000,
     {{0, 0, P, U}, {700, 1, P, 1000.0 / 700}, {END, 0, 0, 0}}},
};

static void
run_rate_case(const rate_case_t *c)
{
    rate_t r;

    memset(&r, 0, sizeof(r));
    for (size_t i = 0; i < MAX_STEPS && c->steps[i].t != END; i++) {
        const step_t *s = &c->steps[i];
        double got;

        if (s->push != ASK) {
            rate_push_t p = rate_push(&r, s->t, s->n);
            if ((int)p != s->push) {
                print_error("case \"%s\", step %zu (t=%lld, count %llu): push gave %d, want %d\n",
                            c->name, i + 1, (long long)s->t, (unsigned long long)s->n, (int)p,
                            s->push);
                fail();
            }
        }
        got = rate_value(&r, s->t, c->window_ms);
        if ((s->rate == U) != (got == U) || (got - s->rate > 1e-9 || s->rate - got > 1e-9)) {
            print_error("case \"%s\", step %zu (t=%lld): rate %.9f, want %.9f\n", c->name, i + 1,
                        (long long)s->t, got, s->rate);
            fail();
        }
    }
}

static void
test_rate_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rate_cases) / sizeof(rate_cases[0]); i++)
        run_rate_case(&rate_cases[i]);
}

/* A full ring drops its oldest sample; the rate comes from what is left. */
static void
test_rate_ring(void **state)
{
    rate_t r;

    (void)state;
    memset(&r, 0, sizeof(r));
    for (int64_t i = 0; i < 3 * RATE_MAX_SAMPLES; i++) {
        assert_int_equal(rate_push(&r, i * 10, (uint64_t)i * 3), RATE_PUSHED);
        assert_true(r.n <= RATE_MAX_SAMPLES);
    }
    assert_int_equal(r.n, RATE_MAX_SAMPLES);
    /* 3 errors every 10 ms: 128 samples 10 ms apart span 1.27 s, so the 1 s window is what
     * limits the rate's span */
    assert_true(rate_value(&r, (3 * RATE_MAX_SAMPLES - 1) * 10, 1000) == 300.0);
    /* with 1 ms apart the ring (127 ms) is what limits it */
    rate_reset(&r);
    assert_int_equal(r.n, 0);
    for (int64_t i = 0; i < 1000; i++)
        rate_push(&r, 5000 + i, (uint64_t)i);
    assert_int_equal(r.n, RATE_MAX_SAMPLES);
    assert_true(rate_value(&r, 5999, 1000) == 1000.0);
    rate_reset(&r);
    assert_true(rate_value(&r, 5999, 1000) == RATE_UNKNOWN);
}

static void
test_rate_window(void **state)
{
    (void)state;
    assert_int_equal(rate_window_ms(10), 1000);
    assert_int_equal(rate_window_ms(100), 1000);
    assert_int_equal(rate_window_ms(666), 1000);
    assert_int_equal(rate_window_ms(700), 1050);
    assert_int_equal(rate_window_ms(1000), 1500);
    assert_int_equal(rate_window_ms(60000), 90000);
}

/* ---- the counter's text ---------------------------------------------------------- */

static void
test_counter_parse(void **state)
{
    static const struct {
        const char *text;
        size_t len; /* 0: strlen(text) */
        bool ok;
        uint64_t want;
    } cases[] = {
        {"0", 0, true, 0},
        {"42\n", 0, true, 42},
        {" 7 \r\n", 0, true, 7},
        {"\t12", 0, true, 12},
        {"007", 0, true, 7},
        {"18446744073709551615\n", 0, true, UINT64_MAX},
        {"18446744073709551616", 0, false, 0},
        {"99999999999999999999", 0, false, 0},
        {"", 0, false, 0},
        {"\n", 0, false, 0},
        {"   ", 0, false, 0},
        {"-1", 0, false, 0},
        {"+1", 0, false, 0},
        {"1.5", 0, false, 0},
        {"1e3", 0, false, 0},
        {"1 2", 0, false, 0},
        {"1\n2\n", 0, false, 0},
        {"0x10", 0, false, 0},
        {"abc", 0, false, 0},
        {"12abc", 0, false, 0},
        {"errors=3", 0, false, 0},
        {"1\0", 2, false, 0},
        {"\0"
         "1",
         2, false, 0},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);
        uint64_t got = 12345;
        bool ok = counter_parse(cases[i].text, len, &got);
        if (ok != cases[i].ok || (ok && got != cases[i].want)) {
            print_error("counter text %zu (`%s`): ok %d count %llu, want ok %d count %llu\n", i,
                        cases[i].text, ok, (unsigned long long)got, cases[i].ok,
                        (unsigned long long)cases[i].want);
            fail();
        }
        if (!ok)
            assert_int_equal(got, 12345); /* untouched */
    }
}

/* ---- health_read_counter on real files ------------------------------------------- */

static char dir[64];

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/convoy-test-agent-rate-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int
teardown(void **state)
{
    static const char *const names[] = {"ok", "bad", "long", "fifo", "empty", "sub"};
    char path[128];

    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (unlink(path) != 0)
            rmdir(path);
    }
    rmdir(dir);
    return 0;
}

static void
put(const char *name, const char *text)
{
    char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

/* Reads DIR/name: must fail with exactly want (%s: the path), or succeed with count. */
static void
check_read(const char *name, const char *want, uint64_t count)
{
    char path[128], why[512] = "", expected[512];
    uint64_t got = 0;
    bool ok;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    ok = health_read_counter(path, &got, why, sizeof(why));
    if (want == NULL) {
        if (!ok)
            print_error("%s: %s\n", path, why);
        assert_true(ok);
        assert_int_equal(got, count);
        return;
    }
    {
        const char *at = strstr(want, "%s"); /* every message names the path once */
        assert_non_null(at);
        snprintf(expected, sizeof(expected), "%.*s%s%s", (int)(at - want), want, path, at + 2);
    }
    assert_false(ok);
    assert_string_equal(why, expected);
}

static void
test_read_counter(void **state)
{
    char path[128], big[80];

    (void)state;
    put("ok", "1234\n");
    check_read("ok", NULL, 1234);
    put("ok", "0");
    check_read("ok", NULL, 0);
    check_read("nosuch", "cannot open %s: No such file or directory", 0);
    put("bad", "twelve\n");
    check_read("bad", "%s does not hold one non-negative integer (`twelve\\x0a`)", 0);
    put("empty", "");
    check_read("empty", "%s does not hold one non-negative integer (``)", 0);
    memset(big, '1', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    put("long", big);
    check_read("long", "%s holds more than 64 bytes; it must hold one non-negative integer", 0);
    big[COUNTER_MAX_TEXT] = '\0'; /* 64 digits: the size is fine, the number too large */
    put("long", big);
    check_read("long",
               "%s does not hold one non-negative integer "
               "(`11111111111111111111111111111111...`)",
               0);
    snprintf(path, sizeof(path), "%s/sub", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    check_read("sub", "%s is not a regular file", 0);
    /* a FIFO nobody writes: refused at once, not a hang */
    snprintf(path, sizeof(path), "%s/fifo", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    check_read("fifo", "%s is not a regular file", 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_cases),   cmocka_unit_test(test_rate_ring),
        cmocka_unit_test(test_rate_window),  cmocka_unit_test(test_counter_parse),
        cmocka_unit_test(test_read_counter),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
