/*
 * backfill.h: the batched, checkpointed, adaptive backfill of one column.
 *
 * Keyset paging over the primary key up to the largest key present when the
 * backfill started (later rows get the column DEFAULT). Each batch is one
 * transaction that updates rows still NULL, advances the checkpoint and renews
 * the lease with its fencing token: a resume after any crash is exact.
 */
#ifndef CONVOY_BACKFILL_H
#define CONVOY_BACKFILL_H

#include "convoy/lease.h"
#include "convoy/pg.h"
#include "convoy/plan.h"
#include "convoy/progress.h"

typedef enum {
    BF_DONE,
    BF_ABORTED,     /* convoy abort was requested: stopped at a batch boundary */
    BF_INTERRUPTED, /* SIGINT/SIGTERM: stopped at a batch boundary */
    BF_LEASE_LOST,
    BF_LOCKED, /* row locks kept timing out past the retry budget */
    BF_ERROR,
} bf_result_t;

typedef struct {
    pg_t *pg;
    const char *migration;
    int step_no;
    const step_t *step;
    const lease_t *lease;
    int64_t target_ms;
    int64_t lock_timeout_ms;
    progress_t *progress;
    volatile int *stop_flag; /* set by a signal handler */
    /* results */
    int64_t rows_done;
    int64_t rows_updated;
    char *error; /* owned, set on BF_ERROR/BF_LOCKED */
} bf_ctx_t;

bf_result_t backfill_run(bf_ctx_t *c);

#endif
