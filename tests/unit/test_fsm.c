/*
 * test_fsm.c: the migration lifecycle (control/fsm.c) against an independent copy of it.
 *
 * `lifecycle` below is written from the comments of include/convoy/fsm.h, not copied from
 * fsm_edges[]: every (status, event) pair is tried against fsm_edge(), and exactly these
 * edges must be accepted, with this target and this by_operator flag.
 */
#include "convoy/fsm.h"

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
    mig_status_t from;
    mig_event_t event;
    mig_status_t to;
    bool by_operator;
} want_edge_t;

static const want_edge_t lifecycle[] = {
    /* submitted: planned and recorded, no step run yet */
    {MIG_SUBMITTED, EV_START, MIG_RUNNING, false},
    {MIG_SUBMITTED, EV_ABORT_REQUEST, MIG_ABORTING, true},
    /* the plan is recorded, then started: a driver that crashed in between left it here */
    {MIG_SUBMITTED, EV_RESUME, MIG_RUNNING, false},
    /* running: a driver holds the lease and runs steps */
    {MIG_RUNNING, EV_COMPLETE, MIG_DONE, false},
    {MIG_RUNNING, EV_FAIL, MIG_FAILED, false},
    {MIG_RUNNING, EV_BLOCK, MIG_BLOCKED, false},
    {MIG_RUNNING, EV_INTERRUPT, MIG_INTERRUPTED, false},
    {MIG_RUNNING, EV_RESUME, MIG_RUNNING, false}, /* the previous driver crashed */
    {MIG_RUNNING, EV_ABORT_REQUEST, MIG_ABORTING, true},
    /* interrupted: stopped at a consistent point; apply resumes */
    {MIG_INTERRUPTED, EV_RESUME, MIG_RUNNING, false},
    {MIG_INTERRUPTED, EV_ABORT_REQUEST, MIG_ABORTING, true},
    /* failed: what convoy installed was removed; apply retries */
    {MIG_FAILED, EV_RESUME, MIG_RUNNING, false},
    {MIG_FAILED, EV_ABORT_REQUEST, MIG_ABORTING, true},
    /* blocked: the data must be fixed first */
    {MIG_BLOCKED, EV_RESUME, MIG_RUNNING, false},
    {MIG_BLOCKED, EV_ABORT_REQUEST, MIG_ABORTING, true},
    /* aborting: the driver undoes at its next safe point */
    {MIG_ABORTING, EV_ABORT_DONE, MIG_ABORTED, false},
    /* aborted: undone what abort undoes; apply resumes */
    {MIG_ABORTED, EV_RESUME, MIG_RUNNING, false},
    /* pause: by an operator, or when a bounded hold runs out; only an operator resumes */
    {MIG_RUNNING, EV_PAUSE_REQUEST, MIG_PAUSED, true},
    {MIG_RUNNING, EV_HOLD_EXPIRED, MIG_PAUSED, false},
    {MIG_PAUSED, EV_RESUME_REQUEST, MIG_RUNNING, true},
    {MIG_PAUSED, EV_RESUME, MIG_PAUSED, false}, /* a new driver keeps it paused */
    {MIG_PAUSED, EV_INTERRUPT, MIG_INTERRUPTED, false},
    {MIG_PAUSED, EV_ABORT_REQUEST, MIG_ABORTING, true},
    /* a contract phase waits for its expand migration's contract gate */
    {MIG_RUNNING, EV_GATE_WAIT, MIG_WAITING, false},
    {MIG_WAITING, EV_GATE_OPEN, MIG_RUNNING, false},
    {MIG_WAITING, EV_RESUME, MIG_WAITING, false}, /* a new driver keeps waiting */
    {MIG_WAITING, EV_INTERRUPT, MIG_INTERRUPTED, false},
    {MIG_WAITING, EV_ABORT_REQUEST, MIG_ABORTING, true},
    /* done: every step done; nothing leaves it */
};
#define N_LIFECYCLE (sizeof(lifecycle) / sizeof(lifecycle[0]))

static const want_edge_t *
want(mig_status_t from, mig_event_t event)
{
    for (size_t i = 0; i < N_LIFECYCLE; i++)
        if (lifecycle[i].from == from && lifecycle[i].event == event)
            return &lifecycle[i];
    return NULL;
}

/* Every (status, event) pair: accepted exactly when the lifecycle has it, with its target. */
static void
test_every_pair(void **state)
{
    int problems = 0;

    (void)state;
    for (int s = 0; s < MIG_N_STATUS; s++) {
        for (int e = 0; e < EV_N; e++) {
            const fsm_edge_t *got = fsm_edge((mig_status_t)s, (mig_event_t)e);
            const want_edge_t *w = want((mig_status_t)s, (mig_event_t)e);
            const char *sn = mig_status_name((mig_status_t)s);
            const char *en = mig_event_name((mig_event_t)e);

            if (w == NULL && got != NULL) {
                print_error("%s --%s--> %s is accepted, the lifecycle has no such edge\n", sn, en,
                            mig_status_name(got->to));
                problems++;
            } else if (w != NULL && got == NULL) {
                print_error("%s --%s--> is refused, the lifecycle goes to %s\n", sn, en,
                            mig_status_name(w->to));
                problems++;
            } else if (w != NULL) {
                if (got->from != w->from || got->event != w->event) {
                    print_error("fsm_edge(%s, %s) returned the edge for (%s, %s)\n", sn, en,
                                mig_status_name(got->from), mig_event_name(got->event));
                    problems++;
                }
                if (got->to != w->to) {
                    print_error("%s --%s--> %s, expected %s\n", sn, en, mig_status_name(got->to),
                                mig_status_name(w->to));
                    problems++;
                }
                if (got->by_operator != w->by_operator) {
                    print_error("%s --%s--> by_operator is %d, expected %d\n", sn, en,
                                got->by_operator, w->by_operator);
                    problems++;
                }
                if (got->meaning == NULL || got->meaning[0] == '\0') {
                    print_error("%s --%s--> has no meaning text\n", sn, en);
                    problems++;
                }
            }
        }
    }
    assert_int_equal(problems, 0);
    /* and the table holds nothing that the pair sweep could not reach */
    assert_int_equal(fsm_n_edges, N_LIFECYCLE);
}

/* Out-of-range values find no edge. */
static void
test_out_of_range(void **state)
{
    (void)state;
    assert_null(fsm_edge(MIG_N_STATUS, EV_START));
    assert_null(fsm_edge(MIG_RUNNING, EV_N));
    assert_null(fsm_edge((mig_status_t)-1, EV_RESUME));
    assert_string_equal(mig_status_name(MIG_N_STATUS), "unknown");
    assert_string_equal(mig_event_name(EV_N), "unknown");
}

static void
test_nothing_leaves_done(void **state)
{
    (void)state;
    for (int e = 0; e < EV_N; e++)
        if (fsm_edge(MIG_DONE, (mig_event_t)e) != NULL)
            fail_msg("done --%s--> is accepted", mig_event_name((mig_event_t)e));
    for (size_t i = 0; i < fsm_n_edges; i++)
        assert_int_not_equal(fsm_edges[i].from, MIG_DONE);
}

/* A migration starts as submitted: no edge goes back to it. */
static void
test_nothing_enters_submitted(void **state)
{
    (void)state;
    for (size_t i = 0; i < fsm_n_edges; i++)
        if (fsm_edges[i].to == MIG_SUBMITTED)
            fail_msg("%s --%s--> submitted", mig_status_name(fsm_edges[i].from),
                     mig_event_name(fsm_edges[i].event));
}

static void
test_names_round_trip(void **state)
{
    (void)state;
    for (int s = 0; s < MIG_N_STATUS; s++) {
        mig_status_t back = MIG_N_STATUS;
        const char *name = mig_status_name((mig_status_t)s);

        assert_non_null(name);
        assert_string_not_equal(name, "unknown");
        assert_true(mig_status_parse(name, &back));
        assert_int_equal(back, s);
        for (int t = 0; t < s; t++)
            assert_string_not_equal(name, mig_status_name((mig_status_t)t));
    }
    for (int e = 0; e < EV_N; e++) {
        const char *name = mig_event_name((mig_event_t)e);
        assert_non_null(name);
        assert_string_not_equal(name, "unknown");
        for (int f = 0; f < e; f++)
            assert_string_not_equal(name, mig_event_name((mig_event_t)f));
    }
    {
        mig_status_t out = MIG_BLOCKED;
        assert_false(mig_status_parse("unknown", &out));
        assert_false(mig_status_parse("Running", &out));
        assert_false(mig_status_parse("", &out));
        assert_false(mig_status_parse("running ", &out));
        assert_false(mig_status_parse(NULL, &out));
        assert_int_equal(out, MIG_BLOCKED); /* untouched on failure */
    }
}

/* Statuses reachable from `start` along the table's edges. */
static void
reachable_from(mig_status_t start, bool seen[MIG_N_STATUS])
{
    mig_status_t queue[MIG_N_STATUS];
    size_t head = 0, tail = 0;

    memset(seen, 0, MIG_N_STATUS * sizeof(bool));
    seen[start] = true;
    queue[tail++] = start;
    while (head < tail) {
        mig_status_t s = queue[head++];
        for (int e = 0; e < EV_N; e++) {
            const fsm_edge_t *edge = fsm_edge(s, (mig_event_t)e);
            if (edge && !seen[edge->to]) {
                seen[edge->to] = true;
                queue[tail++] = edge->to;
            }
        }
    }
}

static void
test_every_status_reachable(void **state)
{
    bool seen[MIG_N_STATUS];

    (void)state;
    reachable_from(MIG_SUBMITTED, seen);
    for (int s = 0; s < MIG_N_STATUS; s++)
        if (!seen[s])
            fail_msg("%s is not reachable from submitted", mig_status_name((mig_status_t)s));
}

/* No dead end: from every status a migration can still finish (or already has). */
static void
test_done_reachable_from_everywhere(void **state)
{
    (void)state;
    for (int s = 0; s < MIG_N_STATUS; s++) {
        bool seen[MIG_N_STATUS];
        reachable_from((mig_status_t)s, seen);
        if (!seen[MIG_DONE])
            fail_msg("done is not reachable from %s", mig_status_name((mig_status_t)s));
    }
}

static void
test_no_duplicate_edges(void **state)
{
    (void)state;
    for (size_t i = 0; i < fsm_n_edges; i++) {
        assert_true((unsigned)fsm_edges[i].from < MIG_N_STATUS);
        assert_true((unsigned)fsm_edges[i].to < MIG_N_STATUS);
        assert_true((unsigned)fsm_edges[i].event < EV_N);
        for (size_t j = i + 1; j < fsm_n_edges; j++)
            if (fsm_edges[i].from == fsm_edges[j].from && fsm_edges[i].event == fsm_edges[j].event)
                fail_msg("edges %zu and %zu share (%s, %s)", i, j,
                         mig_status_name(fsm_edges[i].from), mig_event_name(fsm_edges[i].event));
    }
    /* the expected table is itself free of duplicates */
    for (size_t i = 0; i < N_LIFECYCLE; i++)
        for (size_t j = i + 1; j < N_LIFECYCLE; j++)
            assert_false(lifecycle[i].from == lifecycle[j].from &&
                         lifecycle[i].event == lifecycle[j].event);
}

/*
 * Operator edges are the requests (abort, pause, resume), and every request is an operator
 * edge; an abort request leads to aborting, a pause to paused, a resume to running.
 */
static bool
is_request(mig_event_t e)
{
    return e == EV_ABORT_REQUEST || e == EV_PAUSE_REQUEST || e == EV_RESUME_REQUEST;
}

static void
test_operator_edges(void **state)
{
    (void)state;
    for (size_t i = 0; i < fsm_n_edges; i++) {
        const fsm_edge_t *e = &fsm_edges[i];
        mig_status_t want = e->event == EV_ABORT_REQUEST   ? MIG_ABORTING
                            : e->event == EV_PAUSE_REQUEST ? MIG_PAUSED
                                                           : MIG_RUNNING;
        if (e->by_operator != is_request(e->event))
            fail_msg("%s --%s--> by_operator %d", mig_status_name(e->from),
                     mig_event_name(e->event), e->by_operator);
        if (e->by_operator && e->to != want)
            fail_msg("operator edge from %s leads to %s", mig_status_name(e->from),
                     mig_status_name(e->to));
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_pair),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_nothing_leaves_done),
        cmocka_unit_test(test_nothing_enters_submitted),
        cmocka_unit_test(test_names_round_trip),
        cmocka_unit_test(test_every_status_reachable),
        cmocka_unit_test(test_done_reachable_from_everywhere),
        cmocka_unit_test(test_no_duplicate_edges),
        cmocka_unit_test(test_operator_edges),
    };
    return cmocka_run_group_tests_name("fsm", tests, NULL, NULL);
}
