/*
 * throttle.h: the fleet's decisions, pure (no I/O, time passed in): how far behind each
 * replica is, and whether the engine may go on at a gate point.
 *
 * Lag without trusting clocks: the coordinator records, on its own monotonic clock, when
 * it wrote each heartbeat seq on the primary; a replica reports the newest seq it has
 * replayed; its lag is the age of the oldest heartbeat it has not replayed (0 when it has
 * the newest). No two hosts' clocks are compared.
 *
 * Fail closed: an agent silent for more than 3 heartbeat intervals, an agent that cannot
 * query its database, a replica out of recovery, or a lag not measured yet all hold.
 */
#ifndef CONVOY_THROTTLE_H
#define CONVOY_THROTTLE_H

#include "convoy/gate.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HB_RING 4096

typedef struct {
    int64_t seq[HB_RING];
    int64_t at_ms[HB_RING];
    size_t head, n; /* head: index of the oldest */
} hb_ring_t;

void hb_ring_reset(hb_ring_t *r);
void hb_ring_push(hb_ring_t *r, int64_t seq, int64_t at_ms);
/* The lag of a node that has replayed seq `seen` (-1: none), or -1 when nothing is known. */
int64_t hb_ring_lag_ms(const hb_ring_t *r, int64_t seen, int64_t now_ms);

typedef struct {
    const char *name;
    bool replica;
    bool cache;        /* a cache agent: it must reach Redis */
    bool app;          /* an app node: its error rate is the application's health */
    double error_rate; /* errors per second; < 0: the app exposes none */
    bool redis_ok;
    const char *redis_error;
    int64_t silent_ms; /* since its last frame; -1: never heard */
    bool db_ok;
    const char *db_error;
    bool in_recovery;
    bool replay_paused;
    int64_t lag_ms; /* -1: no heartbeat of this run replayed yet */
    uint64_t replay_lsn;
    /* the table an ACCESS EXCLUSIVE step waits on: this replica's readers of it */
    bool readers_known; /* it answered since the question was asked */
    int n_readers;
    int oldest_reader_pid;
    double oldest_reader_age_s;
    /* the primary: pg_stat_database rates over about the last second (< 0: not known yet) */
    double rollback_rate;
    double deadlock_rate;
} node_view_t;

typedef struct {
    int64_t heartbeat_ms;
    int64_t max_lag_ms;
    int64_t replay_timeout_ms;
    int64_t reader_hold_ms;
    double error_rate_limit;    /* app errors per second */
    int64_t health_grace_ms;    /* an app-health hold this long pauses for an operator */
    double rollback_rate_limit; /* the primary's rollbacks per second; < 0: not watched */
    double deadlock_rate_limit; /* the primary's deadlocks per second; < 0: not watched */
    bool health_abort;          /* a health hold past health_grace aborts instead of pausing */
    const char *flag_file;      /* non-NULL: it exists, hold */
} throttle_limits_t;

typedef struct {
    gate_point_t point;
    bool exclusive;    /* BEFORE_STEP: the step takes ACCESS EXCLUSIVE on `table` */
    const char *table; /* for messages */
    uint64_t lsn;      /* AFTER_STEP: every replica must have replayed this */
    int step;
    int64_t held_ms;
} throttle_query_t;

typedef struct {
    gate_verdict_t verdict;
    int64_t delay_ms; /* GO: pace by sleeping this long first (lag near the limit) */
    char why[256];
} throttle_out_t;

void throttle_decide(const node_view_t *nodes,
                     size_t n,
                     const throttle_limits_t *lim,
                     const throttle_query_t *q,
                     throttle_out_t *out);

#endif
