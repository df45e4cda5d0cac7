/*
 * gate.h: where the engine asks before it goes on. The coordinator service supplies a gate
 * that answers from what the fleet reports (replica lag, replica readers, replay position,
 * unknown agents); the one-shot CLI supplies none, and the engine only honours an operator's
 * pause. Throttling is a hold, never an abort: a HOLD is asked again every poll_ms; a PAUSE
 * (a bounded hold ran out) makes the migration `paused` until an operator resumes it.
 */
#ifndef CONVOY_GATE_H
#define CONVOY_GATE_H

#include "convoy/plan.h"

#include <stddef.h>
#include <stdint.h>

/* GATE_ABORT: the application's health did not recover within its grace (health_action =
 * abort): the engine aborts at this safe point, as `convoy abort` would. */
typedef enum { GATE_GO, GATE_HOLD, GATE_PAUSE, GATE_ABORT } gate_verdict_t;

typedef enum {
    GATE_BEFORE_STEP,  /* before step `step` starts (s: the step) */
    GATE_AFTER_STEP,   /* after step `step` committed at WAL position `lsn` */
    GATE_BEFORE_BATCH, /* before the next backfill batch of step `step` */
} gate_point_t;

typedef struct {
    gate_point_t point;
    const char *migration;
    int step;
    const step_t *s;
    char lsn[32];      /* GATE_AFTER_STEP: pg_current_wal_lsn() after the step, as text */
    int64_t held_ms;   /* how long this point has been held so far */
    int64_t target_ms; /* GATE_BEFORE_BATCH: the batch target in force; the gate may change it */
} gate_query_t;

typedef struct {
    /* Fills why (for people, e.g. "replica r2 lag 3.4 s > 1 s") unless it returns GATE_GO. */
    gate_verdict_t (*ask)(void *ud, gate_query_t *q, char *why, size_t why_len);
    int64_t poll_ms; /* how often a hold asks again (the heartbeat interval) */
    void *ud;
} engine_gate_t;

#endif
