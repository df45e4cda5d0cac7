/* test_throttle.c: the fleet's lag ring and verdicts, table-driven (pure). */
#include "convoy/throttle.h"

#include <string.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

static void
test_ring_lag(void **state)
{
    static hb_ring_t r;
    (void)state;
    hb_ring_reset(&r);
    assert_int_equal(hb_ring_lag_ms(&r, 5, 1000), -1); /* nothing written: unknown */
    hb_ring_push(&r, 10, 1000);
    hb_ring_push(&r, 11, 1100);
    hb_ring_push(&r, 12, 1200);
    assert_int_equal(hb_ring_lag_ms(&r, 12, 1250), 0);   /* has the newest */
    assert_int_equal(hb_ring_lag_ms(&r, 11, 1250), 50);  /* 12 written at 1200, unseen */
    assert_int_equal(hb_ring_lag_ms(&r, 10, 1250), 150); /* 11 written at 1100 */
    assert_int_equal(hb_ring_lag_ms(&r, -1, 1250), 250); /* none seen: the oldest */
    assert_int_equal(hb_ring_lag_ms(&r, 99, 1250), 0);   /* a seq from another writer */
    /* wrap-around keeps the newest HB_RING entries, oldest first */
    hb_ring_reset(&r);
    for (int64_t i = 0; i < HB_RING + 10; i++)
        hb_ring_push(&r, i, i * 100);
    assert_int_equal(r.n, HB_RING);
    assert_int_equal(hb_ring_lag_ms(&r, 9, (HB_RING + 10) * 100), (HB_RING + 10 - 10) * 100);
    assert_int_equal(hb_ring_lag_ms(&r, HB_RING + 8, (HB_RING + 10) * 100), 100);
}

typedef struct {
    const char *name;
    node_view_t nodes[3];
    gate_point_t point;
    bool exclusive;
    uint64_t lsn;
    int64_t held_ms;
    const char *flag;
    gate_verdict_t want;
    const char *why; /* substring */
    bool delay;      /* GO with pacing */
} tcase_t;

#define PRIMARY                                                                                    \
    {                                                                                              \
        .name = "p", .silent_ms = 50, .db_ok = true, .lag_ms = -1, .readers_known = true           \
    }
#define R(n, lag)                                                                                  \
    {                                                                                              \
        .name = n, .replica = true, .silent_ms = 50, .db_ok = true, .in_recovery = true,           \
        .lag_ms = lag, .replay_lsn = 1000, .readers_known = true                                   \
    }

static const tcase_t cases[] = {
    {"all fine",
     {PRIMARY, R("r1", 10), R("r2", 20)},
     GATE_BEFORE_BATCH,
     false,
     0,
     0,
     NULL,
     GATE_GO,
     NULL,
     false},
    {"worst lag over",
     {PRIMARY, R("r1", 10), R("r2", 3400)},
     GATE_BEFORE_BATCH,
     false,
     0,
     0,
     NULL,
     GATE_HOLD,
     "replica r2 lag 3.4 s > 1.0 s",
     false},
    {"lag at the limit goes, paced",
     {PRIMARY, R("r1", 10), R("r2", 1000)},
     GATE_BEFORE_BATCH,
     false,
     0,
     0,
     NULL,
     GATE_GO,
     NULL,
     true},
    {"lag unmeasured",
     {PRIMARY, R("r1", 10), R("r2", -1)},
     GATE_BEFORE_BATCH,
     false,
     0,
     0,
     NULL,
     GATE_HOLD,
     "replica r2 has not replayed a heartbeat yet",
     false},
    {"preflight holds on lag",
     {PRIMARY, R("r1", 1500), R("r2", 0)},
     GATE_BEFORE_STEP,
     false,
     0,
     0,
     NULL,
     GATE_HOLD,
     "replica r1 lag 1.5 s",
     false},
    {"flag file",
     {PRIMARY, R("r1", 0), R("r2", 0)},
     GATE_BEFORE_BATCH,
     false,
     0,
     0,
     "/tmp/stop",
     GATE_HOLD,
     "flag file /tmp/stop exists",
     false},
    {"after step, replayed",
     {PRIMARY, R("r1", 0), R("r2", 0)},
     GATE_AFTER_STEP,
     false,
     1000,
     0,
     NULL,
     GATE_GO,
     NULL,
     false},
    {"after step, behind",
     {PRIMARY, R("r1", 0), R("r2", 0)},
     GATE_AFTER_STEP,
     false,
     1001,
     10,
     NULL,
     GATE_HOLD,
     "waiting for replica r1 to replay step 4",
     false},
    {"after step, replay timeout",
     {PRIMARY, R("r1", 0), R("r2", 0)},
     GATE_AFTER_STEP,
     false,
     1001,
     61000,
     NULL,
     GATE_PAUSE,
     "replay_timeout passed",
     false},
};

static void
set_case_specials(const tcase_t *c, node_view_t *v)
{
    memcpy(v, c->nodes, sizeof(c->nodes));
}

static void
run_case(const tcase_t *c, node_view_t *v)
{
    throttle_limits_t lim = {100, 1000, 60000, 30000, 5.0, 30000, 50.0, 0, false, c->flag};
    throttle_query_t q = {c->point, c->exclusive, "public.users", c->lsn, 4, c->held_ms};
    throttle_out_t out;

    throttle_decide(v, 3, &lim, &q, &out);
    if (out.verdict != c->want)
        fail_msg("%s: verdict %d, want %d (%s)", c->name, out.verdict, c->want, out.why);
    if (c->why && strstr(out.why, c->why) == NULL)
        fail_msg("%s: why `%s` lacks `%s`", c->name, out.why, c->why);
    if (c->delay != (out.delay_ms > 0))
        fail_msg("%s: delay %lld", c->name, (long long)out.delay_ms);
}

static void
test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        node_view_t v[3];
        set_case_specials(&cases[i], v);
        run_case(&cases[i], v);
    }
}

/* Fail closed: each way of not knowing holds, at every point. */
static void
test_fail_closed(void **state)
{
    const gate_point_t points[] = {GATE_BEFORE_STEP, GATE_AFTER_STEP, GATE_BEFORE_BATCH};
    (void)state;
    for (size_t p = 0; p < 3; p++) {
        for (int way = 0; way < 5; way++) {
            tcase_t c = {"fail closed",
                         {PRIMARY, R("r1", 0), R("r2", 0)},
                         points[p],
                         false,
                         0,
                         0,
                         NULL,
                         GATE_HOLD,
                         NULL,
                         false};
            node_view_t v[3];
            const char *want[] = {"agent r2 unknown: silent for 301 ms (> 3 x 100 ms)",
                                  "agent r2 unknown: it has not connected",
                                  "replica r2: its agent cannot query the database (boom)",
                                  "replica r2 is not in recovery", "primary p: its agent cannot"};
            set_case_specials(&c, v);
            switch (way) {
            case 0:
                v[2].silent_ms = 301;
                break;
            case 1:
                v[2].silent_ms = -1;
                break;
            case 2:
                v[2].db_ok = false;
                v[2].db_error = "boom";
                break;
            case 3:
                v[2].in_recovery = false;
                break;
            case 4:
                v[0].db_ok = false;
                break;
            }
            c.why = want[way];
            run_case(&c, v);
        }
    }
    {
        /* exactly 3 intervals is not yet unknown */
        tcase_t c = {"at 3 intervals",
                     {PRIMARY, R("r1", 0), R("r2", 0)},
                     GATE_BEFORE_BATCH,
                     false,
                     0,
                     0,
                     NULL,
                     GATE_GO,
                     NULL,
                     false};
        node_view_t v[3];
        set_case_specials(&c, v);
        v[2].silent_ms = 300;
        run_case(&c, v);
    }
}

/* A cache agent that cannot reach Redis holds: its invalidations would wait unseen. */
static void
test_cache_agent(void **state)
{
    node_view_t v[3];
    tcase_t c = {"cache",
                 {PRIMARY, R("r1", 0), R("r2", 0)},
                 GATE_BEFORE_BATCH,
                 false,
                 0,
                 0,
                 NULL,
                 GATE_GO,
                 NULL,
                 false};
    (void)state;
    set_case_specials(&c, v);
    v[0].cache = true; /* node 0 plays the cache agent here */
    v[0].redis_ok = true;
    run_case(&c, v);
    v[0].redis_ok = false;
    v[0].redis_error = "Connection refused";
    c.want = GATE_HOLD;
    c.why = "cache agent p cannot reach Redis (Connection refused)";
    run_case(&c, v);
}

/* The application's health: a rise over the limit holds, a long one pauses; none: no hold. */
static void
test_app_health(void **state)
{
    node_view_t v[3];
    tcase_t c = {"health",
                 {PRIMARY, R("r1", 0), R("r2", 0)},
                 GATE_BEFORE_BATCH,
                 false,
                 0,
                 0,
                 NULL,
                 GATE_GO,
                 NULL,
                 false};
    (void)state;
    set_case_specials(&c, v);
    v[0].app = true; /* node 0 plays the app node here */
    v[0].error_rate = -1;
    run_case(&c, v); /* no error source: nothing to judge */
    v[0].error_rate = 4.9;
    run_case(&c, v);
    v[0].error_rate = 12.0;
    c.want = GATE_HOLD;
    c.why = "app node p error rate 12.0/s > 5.0/s";
    run_case(&c, v);
    c.point = GATE_BEFORE_STEP;
    run_case(&c, v);
    c.held_ms = 30001;
    c.want = GATE_PAUSE;
    c.why = "for longer than health_grace";
    run_case(&c, v);
    c.point = GATE_AFTER_STEP; /* a step that ran is waited for, not judged */
    c.lsn = 1000;
    c.want = GATE_GO;
    c.why = NULL;
    run_case(&c, v);
}

/* The primary's pg_stat_database: deadlocks (any) and rollbacks (over 50/s) hold; a long one
 * pauses; unknown rates (-1) judge nothing. */
static void
test_db_health(void **state)
{
    node_view_t v[3];
    tcase_t c = {"db health",
                 {PRIMARY, R("r1", 0), R("r2", 0)},
                 GATE_BEFORE_BATCH,
                 false,
                 0,
                 0,
                 NULL,
                 GATE_GO,
                 NULL,
                 false};
    (void)state;
    set_case_specials(&c, v);
    v[0].rollback_rate = v[0].deadlock_rate = -1;
    run_case(&c, v); /* not sampled twice yet */
    v[0].rollback_rate = 49.0;
    v[0].deadlock_rate = 0;
    run_case(&c, v);
    v[0].rollback_rate = 120.0;
    c.want = GATE_HOLD;
    c.why = "primary p: rolled-back transactions 120.0/s > 50.0/s (pg_stat_database)";
    run_case(&c, v);
    v[0].deadlock_rate = 1.0;
    c.why = "primary p: deadlocks 1.0/s > 0.0/s";
    run_case(&c, v);
    c.held_ms = 30001;
    c.want = GATE_PAUSE;
    c.why = "for longer than health_grace";
    run_case(&c, v);
    {
        /* health_action = abort: the same long hold aborts instead */
        throttle_limits_t lim = {100, 1000, 60000, 30000, 5.0, 30000, 50.0, 0, true, NULL};
        throttle_query_t q = {GATE_BEFORE_BATCH, false, NULL, 0, 0, 30001};
        throttle_out_t out;
        throttle_decide(v, 3, &lim, &q, &out);
        assert_int_equal(out.verdict, GATE_ABORT);
        assert_non_null(strstr(out.why, "deadlocks 1.0/s"));
        q.held_ms = 1000; /* within the grace: still only a hold */
        throttle_decide(v, 3, &lim, &q, &out);
        assert_int_equal(out.verdict, GATE_HOLD);
    }
    v[1].rollback_rate = 500; /* a replica's numbers are not the application's */
    v[0].rollback_rate = 0;
    v[0].deadlock_rate = 0;
    c.held_ms = 0;
    c.want = GATE_GO;
    c.why = NULL;
    run_case(&c, v);
}

/* Replica readers hold an ACCESS EXCLUSIVE step, bounded by reader_hold. */
static void
test_readers(void **state)
{
    node_view_t v[3];
    tcase_t c = {"readers",
                 {PRIMARY, R("r1", 0), R("r2", 0)},
                 GATE_BEFORE_STEP,
                 true,
                 0,
                 0,
                 NULL,
                 GATE_GO,
                 NULL,
                 false};
    (void)state;
    set_case_specials(&c, v);
    run_case(&c, v); /* everyone answered, nobody reads */
    v[2].readers_known = false;
    c.want = GATE_HOLD;
    c.why = "asking replica r2 who reads public.users";
    run_case(&c, v);
    v[2].readers_known = true;
    v[2].n_readers = 1;
    v[2].oldest_reader_pid = 812;
    v[2].oldest_reader_age_s = 41;
    c.why = "replica r2 has a 41 s query on public.users (pid 812)";
    run_case(&c, v);
    c.held_ms = 30001;
    c.want = GATE_PAUSE;
    c.why = "reader_hold passed";
    run_case(&c, v);
    /* a step that takes no ACCESS EXCLUSIVE lock does not ask */
    c.exclusive = false;
    c.held_ms = 0;
    c.want = GATE_GO;
    c.why = NULL;
    run_case(&c, v);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_lag),    cmocka_unit_test(test_table),
        cmocka_unit_test(test_fail_closed), cmocka_unit_test(test_readers),
        cmocka_unit_test(test_cache_agent), cmocka_unit_test(test_app_health),
        cmocka_unit_test(test_db_health),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
