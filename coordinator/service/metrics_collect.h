/* metrics_collect.h (private to coordinator/service): the metrics' database reads. */
#ifndef CONVOY_SERVICE_METRICS_COLLECT_H
#define CONVOY_SERVICE_METRICS_COLLECT_H

#include "convoy/metrics.h"
#include "convoy/pg.h"

/*
 * Reads the snapshot from the primary (parameterized queries only). cluster: this
 * coordinator's cluster (its fleet rows; NULL: every cluster); default_max_lag_ms: the
 * config's limit (a `convoy set max-lag` override wins; <= 0: unknown). The 50 most recently
 * updated migrations are included. Free with metrics_snapshot_free. False with *err (and
 * db_up false) when the primary cannot be read.
 */
bool metrics_collect(
    pg_t *pg, const char *cluster, int64_t default_max_lag_ms, metrics_snapshot_t *out, char **err);
void metrics_snapshot_free(metrics_snapshot_t *s);

#endif
