/*
 * http.h: the coordinator's gate API (libmicrohttpd), for deploy tools:
 *   GET  /v1/gates/NAME[?gate=contract]  200 {"state":"pending|open|failed","reasons":[...]}
 *        (200 even while pending: Argo Rollouts aborts after 4 non-2xx answers)
 *   POST /v1/gates/NAME/flagger          200 when open, 409 while held (Flagger's
 *        confirm-promotion contract), 410 when failed
 * Every request needs `Authorization: Bearer TOKEN` (401 otherwise). It binds to the
 * address the cluster config gives (127.0.0.1 unless configured otherwise).
 */
#ifndef CONVOY_HTTP_H
#define CONVOY_HTTP_H

typedef struct http_srv http_srv_t;

/* host:port; token: the bearer token; conninfo: the primary. NULL with *err on failure. */
http_srv_t *http_start(const char *bind, const char *token, const char *conninfo, char **err);
void http_stop(http_srv_t *h);

#endif
