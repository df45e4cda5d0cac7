/*
 * dashboard.h (private to coordinator/service): the live view behind http.c.
 *   - the page's files, embedded at build time (service/web/, see coordinator/CMakeLists.txt);
 *   - GET /v1/overview: one JSON document of migrations, fleet, gates and the audit tail;
 *   - the operator's requests (pause, resume, abort), through the engine's own functions.
 */
#ifndef CONVOY_SERVICE_DASHBOARD_H
#define CONVOY_SERVICE_DASHBOARD_H

#include "convoy/pg.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *path; /* "/", "/app.js", ... */
    const char *content_type;
    const unsigned char *data;
    size_t len;
} web_asset_t;

/* The embedded files (web_assets.c, generated); NULL when path is not one of them. */
const web_asset_t *web_asset_find(const char *path);

/*
 * The overview: {"cluster", "max_lag_ms", "version", "migrations": [...], "fleet": [...],
 * "audit": [...]} (docs/liveview.md). NULL with *err when the primary cannot be read.
 */
json_t *dashboard_overview(pg_t *pg, const char *cluster, int64_t max_lag_ms, char **err);

typedef enum { OP_PAUSE, OP_RESUME, OP_ABORT } operator_op_t;

/*
 * An operator's request from the page. Pause and resume are the same audited transition
 * `convoy pause` and `convoy resume` make (state_transition); abort is engine_abort, as
 * `convoy abort` calls it, without waiting for the driver's next safe point. *status gets
 * the HTTP status; the body says what happened.
 */
json_t *dashboard_request(pg_t *pg,
                          const char *conninfo,
                          const char *actor,
                          const char *name,
                          operator_op_t op,
                          const char *client,
                          unsigned *status);

#endif
