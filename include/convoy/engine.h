/*
 * engine.h: the engine's API: apply a migration, abort one. The CLI and the coordinator
 * service call exactly these; they report through events and return a result, never an
 * exit code, and never print.
 */
#ifndef CONVOY_ENGINE_H
#define CONVOY_ENGINE_H

#include "convoy/events.h"
#include "convoy/gate.h"
#include "convoy/migration.h"
#include "convoy/runctl.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    RES_DONE,          /* every step done */
    RES_NOOP,          /* already done: nothing to do */
    RES_INVALID,       /* bad input: the file, unknown objects, a changed file */
    RES_REFUSED,       /* the planner refused an unsafe change */
    RES_BUSY,          /* another live convoy drives it */
    RES_LOCKED,        /* a lock could not be taken within the retry budget */
    RES_BLOCKED,       /* the data must be fixed first */
    RES_ABORTED,       /* aborted (or abort finished) */
    RES_INTERRUPTED,   /* stopped by a signal at a consistent point */
    RES_FAILED,        /* a step failed */
    RES_NOT_FOUND,     /* no such migration */
    RES_STILL_RUNNING, /* abort: the driver has not stopped yet */
    RES_ERROR,         /* connection, state or internal error */
    RES_SUBMITTED,     /* recorded as submitted for a coordinator to drive */
} engine_result_t;

const char *engine_result_name(engine_result_t r);

typedef struct {
    const char *conninfo; /* NULL: PG* environment */
    const char *file;     /* for messages and the audit log */
    const migration_t *m;
    const char *actor;           /* "user@host pid N" */
    int64_t dead_holder_wait_ms; /* wait this long for a crashed local holder's session */
    const engine_gate_t *gate;   /* the fleet's gate (coordinator service); NULL: none */
    /* submit only: plan, record as submitted for the coordinator of `cluster`, return */
    bool submit_only;
    const char *cluster;
    const char *source; /* the file's text, stored so the coordinator can drive it */
} apply_req_t;

typedef struct {
    engine_result_t result;
    char *status;  /* the migration's status at the end (fsm name), or NULL */
    char *message; /* what happened, for people; NULL on success */
    char *fix;     /* how to continue, or NULL */
    char *kept;    /* what is still in place after a stop, or NULL */
    char *undone;  /* what convoy removed, or NULL */
    int step;      /* the step it stopped at (1-based), 0: none */
    int line;      /* that step's line in the file, 0: none */
} engine_outcome_t;

void engine_apply(const apply_req_t *req,
                  run_ctl_t *ctl,
                  const engine_events_t *ev,
                  engine_outcome_t *out);

typedef struct {
    const char *conninfo;
    const char *name;
    const char *actor;
    int64_t wait_ms; /* how long to wait for a running driver to stop */
} abort_req_t;

void engine_abort(const abort_req_t *req,
                  run_ctl_t *ctl,
                  const engine_events_t *ev,
                  engine_outcome_t *out);
void engine_outcome_free(engine_outcome_t *o);

#endif
