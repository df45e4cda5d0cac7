/* test_chunk.c: table-driven tests of the backfill batch-size controller. */
#include "convoy/chunk.h"

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

#define MAX_BATCHES 8

typedef struct {
    int64_t rows;       /* rows the batch covered */
    int64_t elapsed_ms; /* how long it took */
    int64_t expect;     /* the size chunk_observe must return */
} batch_t;

typedef struct {
    const char *name;
    int64_t target_ms;
    int64_t initial;
    int64_t expect_initial; /* size right after chunk_init */
    size_t n_batches;
    batch_t batches[MAX_BATCHES];
} chunk_case_t;

static const chunk_case_t chunk_cases[] = {
    {"steady state at the target keeps the size",
     200,
     1000,
     1000,
     3,
     {{1000, 200, 1000}, {1000, 200, 1000}, {1000, 200, 1000}}},
    {"slow start: at most half the target, step-up is bounded by 4x",
     200,
     1000,
     1000,
     3,
     /* third batch: rate smoothed (100 + 320) / 2 rows/ms -> 42000, under the 4x bound */
     {{1000, 10, 4000}, {4000, 40, 16000}, {16000, 50, 42000}}},
    {"near the target, step-up is bounded by 1.5x per batch",
     200,
     1000,
     1000,
     4,
     /* each batch takes over half the target: 1.5x even though the rate allows more */
     {{1000, 101, 1500}, {1500, 101, 2250}, {2250, 101, 3375}, {3375, 101, 5062}}},
    {"a faster batch raises the smoothed rate only halfway",
     200,
     1000,
     1000,
     2,
     /* rate 5 rows/ms, then 6.25 observed: (5 + 6.25) / 2 * 200 = 1125 */
     {{1000, 200, 1000}, {1000, 160, 1125}}},
    {"a slow batch (2x target) cuts at once",
     200,
     1000,
     1000,
     2,
     {{1000, 200, 1000}, {1000, 400, 500}}},
    {"a slow first batch (2x target) cuts at once", 200, 1000, 1000, 1, {{1000, 400, 500}}},
    {"a slower batch is taken at once, without smoothing",
     100,
     4000,
     4000,
     2,
     /* rate 40 rows/ms, then 10 observed: the new rate is 10, not the mean 25 */
     {{4000, 100, 4000}, {4000, 400, 1000}}},
    {"an outlier (>5x target) cuts to a tenth",
     200,
     1000,
     1000,
     2,
     {{1000, 200, 1000}, {1000, 1001, 100}}},
    {"an outlier on a large batch cuts to a tenth", 200, 50000, 50000, 1, {{50000, 10000, 5000}}},
    {"exactly 5x target is slow, not an outlier", 200, 1000, 1000, 1, {{1000, 1000, 200}}},
    {"after an outlier, growth restarts bounded (4x while far below target)",
     200,
     1000,
     1000,
     3,
     {{1000, 200, 1000}, {1000, 60000, 100}, {100, 20, 400}}},
    {"outlier cut is clamped to the minimum", 200, 50, 50, 1, {{50, 5000, CHUNK_MIN_ROWS}}},
    {"a very slow rate is clamped to the minimum", 200, 1000, 1000, 1, {{10, 999, CHUNK_MIN_ROWS}}},
    {"growth is clamped to the maximum",
     200,
     190000,
     190000,
     2,
     {{190000, 10, CHUNK_MAX_ROWS}, {200000, 10, CHUNK_MAX_ROWS}}},
    {"initial size below the minimum is clamped", 200, 0, CHUNK_MIN_ROWS, 0, {{0, 0, 0}}},
    {"initial size above the maximum is clamped", 200, 1000000000, CHUNK_MAX_ROWS, 0, {{0, 0, 0}}},
    {"zero-row batches change neither the size nor the smoothed rate",
     200,
     1000,
     1000,
     5,
     /* if the zero-row batches had touched the rate, the last size would differ from 1125 */
     {{1000, 200, 1000}, {0, 50, 1000}, {0, 0, 1000}, {0, 1000, 1000}, {1000, 160, 1125}}},
    {"negative row counts are treated like zero rows",
     200,
     1000,
     1000,
     2,
     {{-5, 100, 1000}, {0, 200, 1000}}},
    {"a zero-row batch that stalls (>5x target) still cuts to a tenth",
     200,
     1000,
     1000,
     1,
     /* backfill.c feeds a failed batch (lock timeout) this way to force the cut */
     {{0, 1001, 100}}},
    {"zero elapsed time counts as one millisecond",
     200,
     1000,
     1000,
     1,
     /* 1000 rows in "1 ms": the ideal is huge, the slow-start 4x bound applies */
     {{1000, 0, 4000}}},
    {"a non-positive target is treated as 1 ms",
     0,
     1000,
     1000,
     1,
     /* 1000 rows in 1 ms at a 1 ms target: stays 1000 */
     {{1000, 1, 1000}}},
};

static void
run_chunk_case(void **state)
{
    const chunk_case_t *tc = *state;
    chunk_ctl_t c;

    chunk_init(&c, tc->target_ms, tc->initial);
    if (c.size != tc->expect_initial)
        fail_msg("%s: initial size %lld, expected %lld", tc->name, (long long)c.size,
                 (long long)tc->expect_initial);
    for (size_t i = 0; i < tc->n_batches; i++) {
        const batch_t *b = &tc->batches[i];
        int64_t before = c.size;
        int64_t next = chunk_observe(&c, b->rows, b->elapsed_ms);

        if (next != b->expect)
            fail_msg("%s: batch %zu (%lld rows in %lld ms) gave %lld, expected %lld", tc->name,
                     i + 1, (long long)b->rows, (long long)b->elapsed_ms, (long long)next,
                     (long long)b->expect);
        if (next != c.size)
            fail_msg("%s: batch %zu returned %lld but the controller holds %lld", tc->name, i + 1,
                     (long long)next, (long long)c.size);
        {
            /* the documented bound: 4x while the batch took half the target or less */
            int64_t t = tc->target_ms > 0 ? tc->target_ms : 1;
            int64_t el = b->elapsed_ms > 0 ? b->elapsed_ms : 1;
            double bound = el * 2 <= t ? CHUNK_SLOW_START_STEP_UP : CHUNK_MAX_STEP_UP;
            if ((double)next > (double)before * bound && next > CHUNK_MIN_ROWS)
                fail_msg("%s: batch %zu grew from %lld to %lld, more than %.1fx", tc->name, i + 1,
                         (long long)before, (long long)next, bound);
        }
        if (next < CHUNK_MIN_ROWS || next > CHUNK_MAX_ROWS)
            fail_msg("%s: size %lld outside [%d, %d]", tc->name, (long long)next, CHUNK_MIN_ROWS,
                     CHUNK_MAX_ROWS);
    }
}

/* A simulated table with a fixed throughput: the controller must settle on it. */
typedef struct {
    const char *name;
    int64_t target_ms;
    int64_t initial;
    double rows_per_ms; /* the table's true throughput */
    int64_t settle;     /* the size it must settle on */
} converge_case_t;

static const converge_case_t converge_cases[] = {
    {"already at the target", 200, 1000, 5.0, 1000},
    {"from far below", 200, 10, 50.0, 10000},
    {"from far above, through an outlier", 200, 5000, 0.5, 100},
    {"from above, without an outlier", 500, 20000, 20.0, 10000},
    {"a throughput beyond the maximum settles on the maximum", 200, 1000, 2000.0, CHUNK_MAX_ROWS},
    {"a throughput below the minimum settles on the minimum", 200, 1000, 0.01, CHUNK_MIN_ROWS},
};

static void
run_converge_case(void **state)
{
    const converge_case_t *tc = *state;
    chunk_ctl_t c;
    int64_t size;

    chunk_init(&c, tc->target_ms, tc->initial);
    size = c.size;
    for (int i = 0; i < 60; i++) {
        int64_t elapsed = (int64_t)((double)size / tc->rows_per_ms + 0.5);
        int64_t next = chunk_observe(&c, size, elapsed);

        int64_t t = tc->target_ms > 0 ? tc->target_ms : 1;
        double bound =
            (elapsed > 0 ? elapsed : 1) * 2 <= t ? CHUNK_SLOW_START_STEP_UP : CHUNK_MAX_STEP_UP;

        if ((double)next > (double)size * bound && next > CHUNK_MIN_ROWS)
            fail_msg("%s: batch %d grew from %lld to %lld", tc->name, i + 1, (long long)size,
                     (long long)next);
        size = next;
    }
    if (llabs(size - tc->settle) > tc->settle / 50)
        fail_msg("%s: settled on %lld rows, expected about %lld", tc->name, (long long)size,
                 (long long)tc->settle);
    if (tc->settle > CHUNK_MIN_ROWS && tc->settle < CHUNK_MAX_ROWS) {
        /* Unclamped: a batch now takes about the target time. */
        double took = (double)size / tc->rows_per_ms;
        if (took < 0.95 * (double)tc->target_ms || took > 1.05 * (double)tc->target_ms)
            fail_msg("%s: settled batches take %.1f ms, target %lld ms", tc->name, took,
                     (long long)tc->target_ms);
    }
}

/* chunk_split: the ranges tile (base, up] exactly, each at least 1 wide, nearly equal. */
typedef struct {
    const char *name;
    int64_t base, up;
    int want, n;
    int64_t bounds[9];
} split_case_t;

static const split_case_t split_cases[] = {
    {"one range", 0, 100, 1, 1, {0, 100}},
    {"two equal halves", 0, 1000000, 2, 2, {0, 500000, 1000000}},
    {"remainder spread", 0, 10, 3, 3, {0, 3, 6, 10}},
    {"negative keys", -101, 99, 4, 4, {-101, -51, -1, 49, 99}},
    {"fewer keys than ranges", 5, 8, 8, 3, {5, 6, 7, 8}},
    {"a single key", 41, 42, 4, 1, {41, 42}},
    {"empty span", 7, 7, 2, 1, {7, 7}},
    {"want below one", 0, 10, 0, 1, {0, 10}},
    {"near the top of bigint",
     INT64_MAX - 1000,
     INT64_MAX,
     8,
     8,
     {INT64_MAX - 1000, INT64_MAX - 875, INT64_MAX - 750, INT64_MAX - 625, INT64_MAX - 500,
      INT64_MAX - 375, INT64_MAX - 250, INT64_MAX - 125, INT64_MAX}},
};

static void
test_split(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof(split_cases) / sizeof(split_cases[0]); c++) {
        const split_case_t *tc = &split_cases[c];
        int64_t b[9];
        int n = chunk_split(tc->base, tc->up, tc->want, b);
        if (n != tc->n)
            fail_msg("%s: %d ranges, expected %d", tc->name, n, tc->n);
        for (int i = 0; i <= n; i++)
            if (b[i] != tc->bounds[i])
                fail_msg("%s: bound %d is %lld, expected %lld", tc->name, i, (long long)b[i],
                         (long long)tc->bounds[i]);
        for (int i = 0; i < n && tc->up > tc->base; i++)
            if (b[i + 1] <= b[i])
                fail_msg("%s: range %d is empty", tc->name, i);
    }
}

int
main(void)
{
    size_t n = sizeof(chunk_cases) / sizeof(chunk_cases[0]);
    size_t nc = sizeof(converge_cases) / sizeof(converge_cases[0]);
    struct CMUnitTest *tests = calloc(n, sizeof(*tests));
    struct CMUnitTest *ctests = calloc(nc, sizeof(*ctests));
    int failed = 0;

    if (tests == NULL || ctests == NULL)
        return 1;
    for (size_t i = 0; i < n; i++) {
        tests[i].name = chunk_cases[i].name;
        tests[i].test_func = run_chunk_case;
        tests[i].initial_state = (void *)&chunk_cases[i];
    }
    for (size_t i = 0; i < nc; i++) {
        ctests[i].name = converge_cases[i].name;
        ctests[i].test_func = run_converge_case;
        ctests[i].initial_state = (void *)&converge_cases[i];
    }
    failed += _cmocka_run_group_tests("chunk", tests, n, NULL, NULL);
    failed += _cmocka_run_group_tests("chunk_converge", ctests, nc, NULL, NULL);
    {
        const struct CMUnitTest split[] = {cmocka_unit_test(test_split)};
        failed += cmocka_run_group_tests_name("chunk_split", split, NULL, NULL);
    }
    free(tests);
    free(ctests);
    return failed == 0 ? 0 : 1;
}
