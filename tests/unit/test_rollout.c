/* test_rollout.c: the contract gate's rollout decision (control/rollout.c), table-driven. */
#include "convoy/rollout.h"

#include <string.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const rollout_node_t blue_v1[] = {{"blue", "ok", "v1", 90000, 100},
                                         {"green", "ok", "v2", 90000, 100}};
static const rollout_node_t both_v2[] = {{"blue", "ok", "v2", 90000, 100},
                                         {"green", "ok", "v2", 90000, 100}};
static const rollout_node_t blue_left[] = {{"blue", "left", "v1", 90000, 100},
                                           {"green", "ok", "v2", 90000, 100}};
static const rollout_node_t blue_silent[] = {{"blue", "unknown", "v1", 90000, 100},
                                             {"green", "ok", "v2", 90000, 100}};
static const rollout_node_t blue_fresh_v2[] = {{"blue", "ok", "v2", 2000, 100},
                                               {"green", "ok", "v2", 90000, 100}};
static const rollout_node_t blue_removed[] = {{"blue", "ok", "v1", 90000, 60000},
                                              {"green", "ok", "v2", 90000, 100}};
static const rollout_node_t all_left[] = {{"blue", "left", "v1", 90000, 100}};
static const rollout_node_t no_version[] = {{"blue", "ok", NULL, -1, 100}};

static const struct {
    const char *name;
    const rollout_node_t *nodes;
    size_t n;
    bool fresh;
    int64_t hold_ms;
    int reasons;     /* how many reasons hold it */
    const char *has; /* the first reason contains this */
} cases[] = {
    {"blue still on v1 holds it", blue_v1, N(blue_v1), true, 30000, 1, "blue runs v1, not v2"},
    {"both on v2 long enough: open", both_v2, N(both_v2), true, 30000, 0, NULL},
    {"blue left: open", blue_left, N(blue_left), true, 30000, 0, NULL},
    {"a silent blue holds it (fail closed)", blue_silent, N(blue_silent), true, 30000, 1,
     "blue is unknown: cannot tell"},
    {"blue on v2 for 2 s of 30 s holds it", blue_fresh_v2, N(blue_fresh_v2), true, 30000, 1,
     "blue has run v2 for 2.0 s of 30.0 s"},
    {"... and opens with a 1 s hold", blue_fresh_v2, N(blue_fresh_v2), true, 1000, 0, NULL},
    {"a node no coordinator knows any more is not counted", blue_removed, N(blue_removed), true,
     30000, 0, NULL},
    {"no coordinator running: unknown", both_v2, N(both_v2), false, 30000, 1,
     "no coordinator has refreshed"},
    {"every app node left: nobody runs v2", all_left, N(all_left), true, 30000, 1,
     "no app node reports v2 yet"},
    {"no app node at all", NULL, 0, true, 30000, 1, "no app node reports v2 yet"},
    {"a node that reports no version", no_version, N(no_version), true, 0, 1,
     "blue runs ?, not v2"},
};

static void
test_cases(void **state)
{
    int bad = 0;

    (void)state;
    for (size_t i = 0; i < N(cases); i++) {
        rollout_verdict_t v;
        rollout_decide(cases[i].nodes, cases[i].n, cases[i].fresh, "v2", cases[i].hold_ms, &v);
        if (v.n_reasons != cases[i].reasons ||
            (cases[i].has && (v.n_reasons == 0 || strstr(v.reasons[0], cases[i].has) == NULL))) {
            print_error("%s: %d reason(s), first: %s\n", cases[i].name, v.n_reasons,
                        v.n_reasons ? v.reasons[0] : "-");
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_cases)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
