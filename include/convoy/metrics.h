/*
 * metrics.h: the coordinator's Prometheus metrics (docs/liveview.md).
 *
 * Three parts, kept apart so the rendering is a pure function:
 *   - metrics_snapshot_t: what the durable state (`convoy.*` on the primary) says, as plain
 *     rows, plus the driver's batch histogram; filled by metrics_collect() (metrics.c, the
 *     only part that queries, with parameters; declared in coordinator/service/metrics_collect.h);
 *   - metrics_render(): a snapshot -> the Prometheus text exposition format 0.0.4 (pure,
 *     metrics_render.c, unit-tested in tests/unit/test_metrics_render.c);
 *   - the batch histogram: the driver thread observes each backfill batch's duration
 *     (engine events; durations are not stored in the database), the HTTP thread copies it.
 */
#ifndef CONVOY_METRICS_H
#define CONVOY_METRICS_H

#include "convoy/events.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Upper bounds (seconds) of the batch duration histogram; +Inf is implied. */
#define METRICS_N_BUCKETS 12
extern const double metrics_batch_buckets[METRICS_N_BUCKETS];

typedef struct {
    char migration[128];
    uint64_t counts[METRICS_N_BUCKETS + 1]; /* per bucket (not cumulative); last: > max */
    uint64_t count;
    double sum_s;
    uint64_t retries; /* batches that hit a lock or statement timeout and were retried */
} metrics_hist_t;

/* Adds one observation (pure). */
void metrics_hist_observe(metrics_hist_t *h, double seconds);

typedef struct {
    const char *name;
    const char *status; /* an fsm status name */
    int current_step, n_steps;
    const char *hold_reason; /* the text convoy status shows ("holding: ..."), NULL: none */
    double held_s;           /* how long the hold has lasted; < 0: unknown */
    double max_lag_s;        /* the lag limit in force (override or config); < 0: unknown */
    double worst_lag_s;      /* the worst lag seen during the run; < 0: none */
    bool driven;             /* a driver holds the lease now */
    int64_t lock_waits;      /* lock_timeout expirations (audit: lock_wait) */
    int64_t holds;           /* holds recorded (audit: hold) */
} metrics_migration_t;

typedef struct {
    const char *migration;
    int step;
    int64_t rows_done, rows_updated, batches;
    int64_t rows_total; /* < 0: unknown */
    int64_t batch_size; /* < 0: unknown */
} metrics_backfill_t;

typedef struct {
    const char *migration;
    int step;
    const char *kind;
    const char *status;
    int64_t attempts;
} metrics_step_t;

typedef struct {
    const char *migration;
    const char *gate;  /* expand, contract */
    const char *state; /* pending, open, failed */
} metrics_gate_t;

typedef struct {
    const char *cluster, *node, *role, *state; /* state: ok, lagging, measuring, unknown, ... */
    int64_t lag_ms;                            /* < 0: not measured */
    int64_t lag_bytes;                         /* < 0: not measured */
    double age_s;                              /* how old this view is */
} metrics_node_t;

typedef struct {
    const char *migration;
    const char *kind; /* key, bump, purge */
    int64_t rows, confirmed, pending, keys, removed, attempts;
} metrics_inval_t;

typedef struct {
    bool db_up; /* false: the primary could not be read; only the up gauge is rendered */
    const char *version;
    metrics_migration_t *migrations;
    size_t n_migrations;
    metrics_backfill_t *backfills;
    size_t n_backfills;
    metrics_step_t *steps;
    size_t n_steps;
    metrics_gate_t *gates;
    size_t n_gates;
    metrics_node_t *nodes;
    size_t n_nodes;
    metrics_inval_t *invals;
    size_t n_invals;
    metrics_hist_t *hists;
    size_t n_hists;
    double fresh_s;   /* a node view older than this is stale: no lag or liveness for it */
    void *results[8]; /* metrics_collect's query results, which the strings point into */
} metrics_snapshot_t;

/* The exposition text (owned by the caller). Pure. */
char *metrics_render(const metrics_snapshot_t *s);

/* A hold reason's kind, a bounded label value: "replica_lag", "operator_pause", ... Pure. */
const char *metrics_hold_kind(const char *reason);

/* metrics_collect() and metrics_snapshot_free(): coordinator/service/metrics_collect.h. */

/* The driver's engine events: backfill batch durations and retries (thread-safe). */
void metrics_observe(const engine_event_t *e);
/* A copy of the histograms (thread-safe); free() the array. */
metrics_hist_t *metrics_hist_copy(size_t *n);

#endif
