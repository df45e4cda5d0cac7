/*
 * executor.h: runs a stored plan step by step against the primary.
 *
 * Lock-taking steps run in their own short transaction with SET LOCAL
 * lock_timeout and statement_timeout, retried with jittered exponential backoff
 * while the blockers are shown; the step's completion is recorded in the same
 * transaction. CONCURRENTLY steps run outside a transaction and never leave an
 * INVALID index behind.
 */
#ifndef CONVOY_EXECUTOR_H
#define CONVOY_EXECUTOR_H

#include "convoy/lease.h"
#include "convoy/pg.h"
#include "convoy/plan.h"
#include "convoy/progress.h"
#include "convoy/retry.h"

#include <jansson.h>

typedef struct {
    pg_t *pg;
    const char *name;
    plan_t *plan;  /* steps as stored */
    char **status; /* per step, as stored */
    lease_t *lease;
    progress_t *progress;
    retry_policy_t retry;
    int64_t lock_timeout_ms;
    int64_t statement_timeout_ms;
    int64_t batch_target_ms;
    volatile int *stop_flag;
    json_t *report; /* array of per-step outcomes, filled as steps run */
} exec_t;

/* Runs every step not yet done. Returns a cli.h exit code. */
int exec_run(exec_t *ex);
/*
 * With the lease held and the migration still 'aborting': undoes what abort undoes (sync
 * triggers, INVALID indexes), marks it aborted and returns EXIT_ABORTED. EXIT_OK when it is
 * no longer 'aborting' (a previous holder finished the abort).
 */
int exec_abort_cleanup(exec_t *ex);

#endif
