/*
 * chunk.h: the backfill batch-size controller (pure).
 *
 * Steers each batch toward a target duration: the next size follows the observed
 * rows/ms (smoothed), grows by at most CHUNK_MAX_STEP_UP per batch (CHUNK_SLOW_START_STEP_UP
 * while a batch takes at most half the target, so small first batches ramp up
 * quickly), is cut at once
 * when a batch runs long, and cut to a tenth when a batch takes more than
 * CHUNK_OUTLIER_FACTOR times the target (a lock wait or an I/O stall).
 */
#ifndef CONVOY_CHUNK_H
#define CONVOY_CHUNK_H

#include <stdint.h>

#define CHUNK_MIN_ROWS           10
#define CHUNK_MAX_ROWS           200000
#define CHUNK_INITIAL_ROWS       1000
#define CHUNK_MAX_STEP_UP        1.5
#define CHUNK_SLOW_START_STEP_UP 4.0
#define CHUNK_OUTLIER_FACTOR     5.0

typedef struct {
    int64_t target_ms;
    int64_t size;
    double rate; /* smoothed rows per ms; 0 until the first batch */
} chunk_ctl_t;

void chunk_init(chunk_ctl_t *c, int64_t target_ms, int64_t initial_rows);
/* Feeds one finished batch (rows it covered, how long it took); returns the next size. */
int64_t chunk_observe(chunk_ctl_t *c, int64_t rows, int64_t elapsed_ms);

/*
 * Splits the range (base, up] into at most `want` (>= 1) contiguous ranges of nearly equal
 * span, at least 1 wide: range i is (bounds[i], bounds[i + 1]], bounds[0] = base and
 * bounds[n] = up. Returns n; bounds has room for want + 1 values.
 */
int chunk_split(int64_t base, int64_t up, int want, int64_t *bounds);

#endif
