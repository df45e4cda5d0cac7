/* test_risk.c: the risk score and its reasons from plans, sizes and measurements (table-driven). */
#include "convoy/risk.h"

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

#define GB (1024LL * 1024 * 1024)

typedef enum { P_FAST_COLUMN, P_REWRITE, P_BACKFILL, P_INDEX } plan_shape_t;

typedef struct {
    const char *name;
    plan_shape_t shape;
    int64_t est_ms; /* the heavy step's estimate */
    int64_t bytes;
    bool with_m;
    risk_measured_t m;
    int risk_directive; /* -1: none */
    int min_score, max_score;
    const char *level;  /* at threshold 50 */
    const char *reason; /* a reason containing this, or NULL */
} risk_case_t;

#define NO_M                                                                                       \
    {                                                                                              \
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1                                                     \
    }

static const risk_case_t cases[] = {
    {"fast default, small table", P_FAST_COLUMN, 0, 8 << 20, false, NO_M, -1, 0, 0, "low",
     "no write-blocking lock"},
    {"rewrite under ACCESS EXCLUSIVE for seconds", P_REWRITE, 12000, 2 * GB, false, NO_M, -1, 45,
     60, "medium", "holds ACCESS EXCLUSIVE on public.users while it rewrites it"},
    {"short rewrite", P_REWRITE, 200, 8 << 20, false, NO_M, -1, 20, 20, "low", "rewrites it"},
    {"backfill of a small table", P_BACKFILL, 1000, 100 << 20, false, NO_M, -1, 0, 0, "low", NULL},
    {"backfill of 30 GB: WAL", P_BACKFILL, 4000000, 30 * GB, false, NO_M, -1, 40, 45, "medium",
     "writes 48.0 GB of WAL at full scale (estimate"},
    {"backfill, offline", P_BACKFILL, -1, -1, false, NO_M, -1, 5, 10, "low", "size is not known"},
    {"index on a large table", P_INDEX, 100000, 20 * GB, false, NO_M, -1, 10, 10, "low",
     "builds an index"},
    {"measured: lock held over lock_timeout, traffic stalled",
     P_FAST_COLUMN,
     0,
     8 << 20,
     true,
     {2000, 1 << 20, 4200, 4100, 50, 1.0, 900.0, 4300.0, -1, -1},
     -1,
     85,
     100,
     "high",
     "held for 4.2 s, over lock_timeout 50 ms"},
    {"measured: WAL and a slow replica",
     P_BACKFILL,
     1000,
     8 << 20,
     true,
     {60000, 38 * GB, 20, 0, 50, 1.0, 1.5, 30.0, 300, 90.0 * 1024 * 1024},
     -1,
     35,
     60,
     "medium",
     "replays 90 MB/s: expect"},
    {"measured: quiet",
     P_BACKFILL,
     1000,
     8 << 20,
     true,
     {3000, 50 << 20, 20, 10, 50, 1.0, 1.4, 12.0, -1, -1},
     -1,
     0,
     0,
     "low",
     "(measured)"},
    {"directive overrides the estimate", P_FAST_COLUMN, 0, 8 << 20, false, NO_M, 80, 80, 80, "high",
     "the score is the rehearsal's (-- convoy:risk 80); estimated: 0"},
};

static void
build(const risk_case_t *c, plan_t *p, step_t *s)
{
    memset(p, 0, sizeof(*p));
    memset(s, 0, sizeof(*s));
    p->steps = s;
    p->n_steps = 1;
    p->lock_timeout_ms = 50;
    p->risk_threshold = 50;
    p->risk_measured = c->risk_directive;
    s->n_locks = 1;
    s->locks[0].table = (char *)"public.users";
    s->est_ms = c->est_ms;
    switch (c->shape) {
    case P_FAST_COLUMN:
        s->kind = STEP_DDL;
        s->locks[0].mode = LOCK_ACCESS_EXCLUSIVE;
        break;
    case P_REWRITE:
        s->kind = STEP_PASSTHROUGH;
        s->locks[0].mode = LOCK_ACCESS_EXCLUSIVE;
        s->rewrites = s->scans = true;
        break;
    case P_BACKFILL:
        s->kind = STEP_BACKFILL;
        s->locks[0].mode = LOCK_ROW_EXCLUSIVE;
        s->table_sql = (char *)"public.users";
        break;
    case P_INDEX:
        s->kind = STEP_INDEX;
        s->locks[0].mode = LOCK_SHARE_UPDATE_EXCLUSIVE;
        s->scans = true;
        break;
    }
}

static void
test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const risk_case_t *c = &cases[i];
        plan_t p;
        step_t s;
        risk_t r;
        bool found = c->reason == NULL;

        build(c, &p, &s);
        risk_assess(&p, c->bytes, c->bytes < 0 ? -1 : c->bytes / 100, c->with_m ? &c->m : NULL, &r);
        for (size_t k = 0; k < r.n_reasons; k++)
            if (c->reason && strstr(r.reasons[k], c->reason))
                found = true;
        if (r.score < c->min_score || r.score > c->max_score || !found ||
            strcmp(risk_level(r.score, 50), c->level) != 0) {
            for (size_t k = 0; k < r.n_reasons; k++)
                fprintf(stderr, "  reason: %s\n", r.reasons[k]);
            fail_msg("case '%s': score %d (want %d..%d), level %s (want %s), reason '%s' %s",
                     c->name, r.score, c->min_score, c->max_score, risk_level(r.score, 50),
                     c->level, c->reason ? c->reason : "-", found ? "found" : "missing");
        }
        assert_true(r.n_reasons >= 1);
        if (c->risk_directive >= 0 || c->with_m)
            assert_true(r.measured);
        {
            json_t *j = risk_to_json(&r, 50);
            assert_int_equal(json_integer_value(json_object_get(j, "score")), r.score);
            assert_string_equal(json_string_value(json_object_get(j, "level")), c->level);
            json_decref(j);
        }
        risk_free(&r);
    }
}

static void
test_levels(void **state)
{
    (void)state;
    assert_string_equal(risk_level(0, 50), "low");
    assert_string_equal(risk_level(29, 50), "low");
    assert_string_equal(risk_level(30, 50), "medium");
    assert_string_equal(risk_level(50, 50), "high");
    assert_string_equal(risk_level(0, 0), "high"); /* threshold 0: the window always applies */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
