/*
 * executor.h: runs a stored plan step by step against the primary, and undoes what
 * convoy installed when a migration stops short.
 *
 * Every statement that takes a lock on a user table (steps, undo, cleanup) goes through
 * one path: its own short transaction with SET LOCAL lock_timeout and statement_timeout,
 * bounded jittered retries on lock timeouts with the blockers named, a stop request
 * honoured between tries, and the step's outcome recorded (fenced) in the same
 * transaction. CONCURRENTLY steps run outside a transaction and never leave an INVALID
 * index behind when they can help it. The executor reports through events; it never
 * prints and never decides exit codes.
 */
#ifndef CONVOY_EXECUTOR_H
#define CONVOY_EXECUTOR_H

#include "convoy/events.h"
#include "convoy/gate.h"
#include "convoy/lease.h"
#include "convoy/pg.h"
#include "convoy/plan.h"
#include "convoy/runctl.h"
#include "convoy/util.h"

typedef enum {
    XR_OK,
    XR_FAILED,      /* a step failed: error says why */
    XR_BLOCKED,     /* the data must be fixed first */
    XR_LOCKED,      /* a lock could not be taken within the retry budget */
    XR_INTERRUPTED, /* stop requested: stopped at a consistent point */
    XR_ABORT,       /* convoy abort was requested */
    XR_FENCED,      /* the lease was taken over: nothing more was written */
    XR_CONN_LOST,   /* the database connection broke */
} exec_result_t;

typedef struct {
    pg_t *pg;
    const char *name;
    const char *file; /* for messages: file:line */
    plan_t *plan;     /* steps and settings as stored */
    char **status;    /* per step, as stored; kept in sync */
    const lease_t *lease;
    run_ctl_t *ctl;
    const engine_events_t *events;
    const engine_gate_t *gate; /* NULL: no fleet to ask (the one-shot CLI) */
    /* results */
    int failed_step; /* 1-based */
    char *error;     /* owned: what failed and why */
    char *fix;       /* owned: how to continue */
} exec_t;

/* Runs every step not yet done. */
exec_result_t exec_run(exec_t *ex);
/*
 * Removes what convoy installed and the migration has not made final (sync triggers,
 * helper and not-yet-validated constraints, INVALID indexes of its own), newest first,
 * through the lock_timeout path; undone steps become pending so a resume redoes them.
 * Appends to *undone what it removed and to *kept what is still in place and why.
 */
exec_result_t exec_undo(exec_t *ex, sb_t *undone, sb_t *kept);
/* Appends what convoy installed that is still in place (done, undoable, not final). */
void exec_in_place(const exec_t *ex, sb_t *out);
void exec_clear(exec_t *ex);

#endif
