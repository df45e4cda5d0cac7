/* test_retry.c: bounds of the full-jitter backoff and of the attempt and time budget. */
#include "convoy/retry.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

/* xorshift32: a fixed, reproducible stream of "random" inputs. */
static uint32_t
next_rnd(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

/* min(cap, base * 2^(attempt-1)), computed independently of retry.c (attempt < 1 counts as 1). */
static int64_t
ceiling_of(const retry_policy_t *p, int attempt)
{
    long double c = (long double)p->base_ms;

    for (int i = 1; i < attempt && c < (long double)p->cap_ms; i++)
        c *= 2;
    if (c > (long double)p->cap_ms)
        c = (long double)p->cap_ms;
    return c < 0 ? 0 : (int64_t)c;
}

typedef struct {
    const char *name;
    retry_policy_t policy;
} policy_case_t;

static const policy_case_t policy_cases[] = {
    {"defaults",
     {RETRY_DEFAULT_BASE_MS, RETRY_DEFAULT_CAP_MS, RETRY_DEFAULT_MAX_ATTEMPTS,
      RETRY_DEFAULT_MAX_TOTAL_MS}},
    {"base 1 ms, cap 1 ms", {1, 1, 10, 1000}},
    {"cap below base", {100, 50, 10, 1000}},
    {"cap not a power-of-two multiple of base", {7, 1000, 30, 60000}},
    {"zero base", {0, 1000, 5, 1000}},
    {"large cap", {50, 2000000000, 100, 86400000}},
    {"single attempt", {20, 2000, 1, 120000}},
};

/* Every delay lies within [0, min(cap, base * 2^(n-1))], for many random inputs. */
static void
run_delay_bounds(void **state)
{
    const policy_case_t *tc = *state;
    const retry_policy_t *p = &tc->policy;
    uint32_t seed = 0x9e3779b9u;

    for (int attempt = -1; attempt <= 80; attempt++) {
        int64_t ceiling = ceiling_of(p, attempt);
        int64_t max_seen = 0;

        for (int k = 0; k < 2000; k++) {
            uint32_t rnd = k == 0 ? 0 : k == 1 ? UINT32_MAX : next_rnd(&seed);
            int64_t d = retry_delay_ms(p, attempt, rnd);
            if (d < 0 || d > ceiling)
                fail_msg("%s: attempt %d, rnd %u: delay %lld outside [0, %lld]", tc->name, attempt,
                         rnd, (long long)d, (long long)ceiling);
            if (d > max_seen)
                max_seen = d;
        }
        /* Full jitter: the ceiling itself and zero are both reachable. */
        if (retry_delay_ms(p, attempt, 0) != 0)
            fail_msg("%s: attempt %d: rnd 0 gave a non-zero delay", tc->name, attempt);
        if (ceiling > 0 && ceiling < UINT32_MAX &&
            retry_delay_ms(p, attempt, (uint32_t)ceiling) != ceiling)
            fail_msg("%s: attempt %d: the ceiling %lld is not reachable", tc->name, attempt,
                     (long long)ceiling);
        /* 2000 uniform draws over a small range must spread over most of it. */
        if (ceiling >= 4 && ceiling <= 100000 && max_seen < ceiling / 2)
            fail_msg("%s: attempt %d: delays never exceeded %lld of %lld", tc->name, attempt,
                     (long long)max_seen, (long long)ceiling);
    }
}

/* A retry loop driven by the policy stops within its attempt and time budget. */
static void
run_budget(void **state)
{
    const policy_case_t *tc = *state;
    const retry_policy_t *p = &tc->policy;
    static const int64_t try_costs[] = {0, 1, 50, 5000};
    uint32_t seed = 12345;

    for (size_t c = 0; c < sizeof(try_costs) / sizeof(try_costs[0]); c++) {
        int64_t elapsed = try_costs[c]; /* the first try */
        int attempts = 1;

        while (retry_allowed(p, attempts, elapsed)) {
            int64_t started;
            elapsed += retry_delay_ms(p, attempts, next_rnd(&seed));
            started = elapsed;
            if (started >= p->max_total_ms + ceiling_of(p, attempts))
                fail_msg("%s: a try started at %lld ms, past the %lld ms budget", tc->name,
                         (long long)started, (long long)p->max_total_ms);
            elapsed += try_costs[c];
            attempts++;
            if (attempts > p->max_attempts)
                fail_msg("%s: %d tries, more than the %d allowed", tc->name, attempts,
                         p->max_attempts);
        }
        if (attempts < p->max_attempts && elapsed < p->max_total_ms)
            fail_msg("%s: gave up after %d tries and %lld ms with budget left", tc->name, attempts,
                     (long long)elapsed);
    }
}

static void
test_defaults(void **state)
{
    retry_policy_t p;

    (void)state;
    retry_policy_default(&p);
    assert_int_equal(p.base_ms, RETRY_DEFAULT_BASE_MS);
    assert_int_equal(p.cap_ms, RETRY_DEFAULT_CAP_MS);
    assert_int_equal(p.max_attempts, RETRY_DEFAULT_MAX_ATTEMPTS);
    assert_int_equal(p.max_total_ms, RETRY_DEFAULT_MAX_TOTAL_MS);
}

typedef struct {
    int attempts;
    int64_t elapsed_ms;
    bool allowed;
} allowed_case_t;

/* The exact edges of retry_allowed under {max 3 tries, 1000 ms}. */
static void
test_allowed_edges(void **state)
{
    static const retry_policy_t p = {10, 100, 3, 1000};
    static const allowed_case_t cases[] = {
        {0, 0, true},     {1, 0, true},   {2, 999, true},   {3, 0, false}, {4, 0, false},
        {1, 1000, false}, {1, 999, true}, {2, 1001, false}, {1, -1, true}, {100, 5, false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool got = retry_allowed(&p, cases[i].attempts, cases[i].elapsed_ms);
        if (got != cases[i].allowed)
            fail_msg("retry_allowed(%d tries, %lld ms) = %d, expected %d", cases[i].attempts,
                     (long long)cases[i].elapsed_ms, got, cases[i].allowed);
    }
}

/* The ceiling doubles per attempt until it reaches the cap, then stays. */
static void
test_ceiling_doubles(void **state)
{
    static const int64_t expect[] = {20, 40, 80, 160, 320, 640, 1280, 2000, 2000, 2000};
    retry_policy_t p;

    (void)state;
    retry_policy_default(&p);
    for (int n = 1; n <= 10; n++) {
        /* rnd = ceiling reaches the ceiling; rnd = ceiling + 1 wraps to 0: the range is exact */
        assert_int_equal(retry_delay_ms(&p, n, (uint32_t)expect[n - 1]), expect[n - 1]);
        assert_int_equal(retry_delay_ms(&p, n, (uint32_t)expect[n - 1] + 1), 0);
    }
}

int
main(void)
{
    size_t n = sizeof(policy_cases) / sizeof(policy_cases[0]);
    struct CMUnitTest *bounds = calloc(n, sizeof(*bounds));
    struct CMUnitTest *budget = calloc(n, sizeof(*budget));
    const struct CMUnitTest misc[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_allowed_edges),
        cmocka_unit_test(test_ceiling_doubles),
    };
    int failed = 0;

    if (bounds == NULL || budget == NULL)
        return 1;
    for (size_t i = 0; i < n; i++) {
        bounds[i].name = policy_cases[i].name;
        bounds[i].test_func = run_delay_bounds;
        bounds[i].initial_state = (void *)&policy_cases[i];
        budget[i].name = policy_cases[i].name;
        budget[i].test_func = run_budget;
        budget[i].initial_state = (void *)&policy_cases[i];
    }
    failed += _cmocka_run_group_tests("retry_delay_bounds", bounds, n, NULL, NULL);
    failed += _cmocka_run_group_tests("retry_budget", budget, n, NULL, NULL);
    failed += cmocka_run_group_tests_name("retry", misc, NULL, NULL);
    free(bounds);
    free(budget);
    return failed == 0 ? 0 : 1;
}
