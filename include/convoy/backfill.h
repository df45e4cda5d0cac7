/*
 * backfill.h: the batched, checkpointed, adaptive passes over one column.
 *
 * Paging over the primary key up to the largest key present when the pass started (key
 * ranges on a dense integer key, keyset otherwise), or over heap blocks (the catch-up). A
 * fill pass sets rows still NULL; a catch-up pass (after the sync trigger is installed)
 * rewrites only the existing rows whose value differs from the expression, and fills rows
 * added since that are still NULL. Each batch's update, checkpoint and fencing check commit
 * together, so a resume after any crash is exact and a driver that lost its lease writes
 * nothing. With workers > 1, a range-paged pass runs in that many sessions side by side,
 * each on its own contiguous range with its own element of the checkpoint.
 */
#ifndef CONVOY_BACKFILL_H
#define CONVOY_BACKFILL_H

#include "convoy/events.h"
#include "convoy/gate.h"
#include "convoy/pg.h"
#include "convoy/plan.h"
#include "convoy/runctl.h"

typedef enum {
    BF_DONE,
    BF_ABORT_REQUESTED, /* convoy abort: stopped at a batch boundary */
    BF_INTERRUPTED,     /* stop requested (SIGINT/SIGTERM): stopped, checkpoint saved */
    BF_FENCED,          /* the lease token is no longer current: nothing written */
    BF_LOCKED,          /* row locks kept timing out past the retry budget */
    BF_FAILED,          /* the expression failed on a row: error and failing_key say which */
    BF_CONN_LOST,
    BF_ERROR,
} bf_result_t;

typedef struct {
    pg_t *pg;
    const char *migration;
    int step_no;
    const step_t *step;
    int64_t token;
    int64_t target_ms;
    int64_t lock_timeout_ms;
    const retry_policy_t *retry;
    run_ctl_t *ctl;
    const engine_events_t *events;
    const engine_gate_t *gate; /* asked before every batch; NULL: none */
    int workers;               /* sessions side by side on a range-paged pass; <= 1: one */
    /* results */
    int64_t rows_done;
    int64_t rows_updated;
    char *error;       /* owned */
    char *failing_key; /* owned: "(id)=(42)" when a row's value cannot be computed */
    char sqlstate[6];
} bf_ctx_t;

bf_result_t backfill_run(bf_ctx_t *c);

#endif
