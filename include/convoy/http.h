/*
 * http.h: the coordinator's HTTP server (libmicrohttpd), for deploy tools, Prometheus and
 * people (docs/gates.md, docs/liveview.md):
 *   GET  /v1/gates/NAME[?gate=contract]  200 {"state":"pending|open|failed","reasons":[...]}
 *        (200 even while pending: Argo Rollouts aborts after 4 non-2xx answers)
 *   POST /v1/gates/NAME/flagger          200 when open, 409 while held (Flagger's
 *        confirm-promotion contract), 410 when failed
 *   GET  /metrics                        Prometheus text format 0.0.4 (include/convoy/metrics.h)
 *   GET  /v1/overview                    the live view's JSON: migrations, fleet, gates, audit
 *   POST /v1/migrations/NAME/pause|resume|abort   the operator's requests (audited)
 *   GET  /, /app.js, /style.css          the live view's page (embedded; no data in it)
 * Every request but the page's files needs `Authorization: Bearer TOKEN` (401 otherwise).
 * It binds to the address the cluster config gives (127.0.0.1 unless configured otherwise).
 */
#ifndef CONVOY_HTTP_H
#define CONVOY_HTTP_H

#include <stdint.h>

typedef struct http_srv http_srv_t;

/* host:port; token: the bearer token; conninfo: the primary. NULL with *err on failure. */
http_srv_t *http_start(const char *bind, const char *token, const char *conninfo, char **err);

typedef struct {
    const char *cluster; /* this coordinator's cluster: its rows of convoy.fleet */
    int64_t max_lag_ms;  /* the config's lag limit (a `convoy set max-lag` override wins) */
    const char *actor;   /* who the audit log names for an abort from the page */
} http_context_t;

/* What the live view and the metrics need from the coordinator (copied). */
void http_set_context(http_srv_t *h, const http_context_t *ctx);
void http_stop(http_srv_t *h);

#endif
