/*
 * runctl.h: how a caller stops a running migration: a flag and the cancel handle of the
 * connection running statements. run_ctl_stop() is async-signal-safe (PQcancel is), so a
 * SIGINT handler can call it: the statement in flight is cancelled at once, every retry
 * sleep wakes, and the engine stops at a consistent point.
 */
#ifndef CONVOY_RUNCTL_H
#define CONVOY_RUNCTL_H

#include <libpq-fe.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#define RUN_CTL_MAX_EXTRA 8

typedef struct {
    volatile sig_atomic_t stop;
    PGcancel *volatile cancel; /* set by the engine while a connection is open */
    /* the engine's other sessions (parallel backfill lanes) while they run statements */
    PGcancel *volatile extra[RUN_CTL_MAX_EXTRA];
} run_ctl_t;

/* Async-signal-safe. */
void run_ctl_stop(run_ctl_t *c);
bool run_ctl_stopped(const run_ctl_t *c);
/* Sleeps up to ms; false (early) once a stop was requested. NULL ctl: plain sleep. */
bool run_ctl_sleep(const run_ctl_t *c, int64_t ms);

#endif
