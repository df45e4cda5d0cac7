/*
 * hold.h: waiting at a gate point. One loop for every place the engine may be held: an
 * operator's pause, an abort or stop request, and whatever the gate says. Each change of
 * reason is recorded (fenced) in convoy.migrations.hold_reason and audited as `hold`; the
 * end of a hold is audited as `release` with how long it lasted.
 */
#ifndef CONVOY_HOLD_H
#define CONVOY_HOLD_H

#include "convoy/events.h"
#include "convoy/executor.h"
#include "convoy/fsm.h"
#include "convoy/gate.h"
#include "convoy/plan.h"

typedef struct {
    pg_t *pg;
    const char *name;
    int64_t token;
    const run_ctl_t *ctl;
    const engine_events_t *events;
    const engine_gate_t *gate; /* NULL: only pause, abort and stop requests */
    /* before each step: the migration's plan, for what it waits on before a step runs: its
     * maintenance window (a high-risk plan outside it holds), and for a contract phase the
     * migration whose contract gate must be open (`waiting` until it is). NULL: neither */
    const plan_t *plan;
} hold_ctx_t;

/*
 * Returns XR_OK when the engine may go on, XR_ABORT, XR_INTERRUPTED, XR_FENCED or
 * XR_CONN_LOST. known: the migration's status when the caller has just read it
 * (MIG_N_STATUS: unknown, read it).
 */
exec_result_t hold_wait(const hold_ctx_t *h, gate_query_t *q, mig_status_t known);

/*
 * The wall clock of maintenance windows, in seconds since the epoch: the one place it is
 * read. TEST ONLY: CONVOY_NOW=ISO8601 (e.g. 2026-12-05T02:30:00Z) moves it so that it starts
 * at that time and runs on from there; never set it in production.
 */
int64_t hold_clock_now(void);

/*
 * Before a step of a migration with -- convoy:window: false (with why, for people) while
 * its risk (risk.h, over the stored plan and the tables' current size) is at or over the
 * threshold and the window is closed. The plan is the stored one (state_load_plan).
 */
bool hold_window_open(pg_t *pg, const plan_t *p, char *why, size_t len);

#endif
