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

typedef struct {
    pg_t *pg;
    const char *name;
    int64_t token;
    const run_ctl_t *ctl;
    const engine_events_t *events;
    const engine_gate_t *gate; /* NULL: only pause, abort and stop requests */
    /* a contract phase (before each step): the migration whose contract gate must be open;
     * while it is not, the migration is `waiting` */
    const char *contract_of;
} hold_ctx_t;

/*
 * Returns XR_OK when the engine may go on, XR_ABORT, XR_INTERRUPTED, XR_FENCED or
 * XR_CONN_LOST. known: the migration's status when the caller has just read it
 * (MIG_N_STATUS: unknown, read it).
 */
exec_result_t hold_wait(const hold_ctx_t *h, gate_query_t *q, mig_status_t known);

#endif
