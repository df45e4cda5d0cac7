/* chunk.c: feedback controller steering backfill batches toward a target duration. */
#include "convoy/chunk.h"

static int64_t
clamp(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

void
chunk_init(chunk_ctl_t *c, int64_t target_ms, int64_t initial_rows)
{
    c->target_ms = target_ms > 0 ? target_ms : 1;
    c->size = clamp(initial_rows, CHUNK_MIN_ROWS, CHUNK_MAX_ROWS);
    c->rate = 0;
}

int
chunk_split(int64_t base, int64_t up, int want, int64_t *bounds)
{
    int64_t span = up > base ? up - base : 0, q, rem;
    int n = want < 1 ? 1 : want;

    if (span < n)
        n = span > 1 ? (int)span : 1;
    q = span / n;
    rem = span % n; /* spread over the first ranges: never overflows, rem < n */
    bounds[0] = base;
    for (int i = 1; i < n; i++)
        bounds[i] = base + q * i + (rem * i) / n;
    bounds[n] = up;
    return n;
}

int64_t
chunk_observe(chunk_ctl_t *c, int64_t rows, int64_t elapsed_ms)
{
    double observed, ideal;
    int64_t next;

    if (elapsed_ms < 1)
        elapsed_ms = 1;
    if ((double)elapsed_ms > CHUNK_OUTLIER_FACTOR * (double)c->target_ms) {
        /* Outlier: cut hard now, and forget the smoothed rate. */
        c->size = clamp(c->size / 10, CHUNK_MIN_ROWS, CHUNK_MAX_ROWS);
        c->rate = 0;
        return c->size;
    }
    if (rows <= 0)
        return c->size;
    observed = (double)rows / (double)elapsed_ms;
    /* Smooth increases, but take decreases at once (a slow batch is news). */
    if (c->rate == 0 || observed < c->rate)
        c->rate = observed;
    else
        c->rate = 0.5 * c->rate + 0.5 * observed;
    ideal = c->rate * (double)c->target_ms;
    {
        /* well below target (half or less): ramp faster, still bounded */
        double step = elapsed_ms * 2 <= c->target_ms ? CHUNK_SLOW_START_STEP_UP : CHUNK_MAX_STEP_UP;
        if (ideal > (double)c->size * step)
            ideal = (double)c->size * step;
    }
    next = (int64_t)ideal;
    c->size = clamp(next, CHUNK_MIN_ROWS, CHUNK_MAX_ROWS);
    return c->size;
}
