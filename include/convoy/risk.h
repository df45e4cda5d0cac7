/*
 * risk.h: how risky a migration is, pure. A score from 0 to 100 with the reasons behind it,
 * from the plan (locks that block writes while they rewrite or scan, estimated durations,
 * backfills and index builds), the size of the tables it touches, and, when a rehearsal ran,
 * what it measured (extrapolated to production's size). The maintenance window
 * (-- convoy:window) applies from the plan's risk_threshold on. docs/rehearse.md.
 */
#ifndef CONVOY_RISK_H
#define CONVOY_RISK_H

#include "convoy/plan.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* What a rehearsal measured, already extrapolated to production's size (-1: not measured). */
typedef struct {
    int64_t duration_ms;       /* the whole migration */
    int64_t wal_bytes;         /* WAL it writes */
    int64_t max_block_ms;      /* the longest a write-blocking lock convoy took was held */
    int64_t max_wait_ms;       /* the longest another session waited behind convoy */
    int64_t lock_timeout_ms;   /* the lock_timeout in force (for the comparison) */
    double p99_before_ms;      /* the traffic's p99 latency before the migration */
    double p99_during_ms;      /* ... and while it ran */
    double max_during_ms;      /* its worst latency while it ran */
    double replica_lag_ms;     /* the worst replica lag while it ran */
    double replay_bytes_per_s; /* the slowest replica's replay rate */
} risk_measured_t;

void risk_measured_init(risk_measured_t *m);

#define RISK_MAX_REASONS 12

typedef struct {
    int score;                       /* 0..100 */
    bool measured;                   /* from a rehearsal (or -- convoy:risk), not only estimated */
    char *reasons[RISK_MAX_REASONS]; /* owned; most important first */
    size_t n_reasons;
} risk_t;

/*
 * table_bytes/table_rows: the largest table the migration changes (-1: unknown, offline).
 * m: a rehearsal's measurements, or NULL. The plan's risk_measured (-- convoy:risk), when set,
 * is the score; the reasons still come from the plan. Fills *out; free with risk_free.
 */
void risk_assess(const plan_t *p,
                 int64_t table_bytes,
                 int64_t table_rows,
                 const risk_measured_t *m,
                 risk_t *out);
void risk_free(risk_t *r);

/* "low" (< 30), "medium" (< threshold), "high" (>= threshold). */
const char *risk_level(int score, int threshold);

/* {"score", "level", "threshold", "measured", "reasons": [...]}; caller decrefs. */
json_t *risk_to_json(const risk_t *r, int threshold);

/* "1.2 GB", "38 MB", "512 B" */
void risk_format_bytes(int64_t bytes, char *buf, size_t len);

#endif
