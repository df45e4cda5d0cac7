/*
 * http.c: the coordinator's HTTP server over libmicrohttpd (see include/convoy/http.h): the
 * gate API, Prometheus /metrics, the live view's page, overview and operator requests.
 */
#include "convoy/http.h"

#include "convoy/gates.h"
#include "convoy/log.h"
#include "convoy/pg.h"
#include "convoy/util.h"
#include "dashboard.h"
#include "metrics_collect.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct http_srv {
    struct MHD_Daemon *d;
    char *token;
    char *conninfo;
    pthread_mutex_t mu; /* one request at a time on the connection; guards the context too */
    pg_t *pg;
    char *cluster; /* http_set_context: this coordinator's cluster, lag limit, actor */
    int64_t max_lag_ms;
    char *actor;
};

/* The page may only talk to this server: no other origin, no inline code, no framing. */
#define PAGE_CSP                                                                                   \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

static enum MHD_Result
send_response(struct MHD_Connection *c,
              unsigned status,
              struct MHD_Response *r,
              const char *content_type)
{
    enum MHD_Result ok;

    MHD_add_response_header(r, "Content-Type", content_type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Content-Security-Policy", PAGE_CSP);
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"convoy\"");
    ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned status, json_t *body)
{
    char *txt = json_dumps(body, JSON_COMPACT);
    size_t n = strlen(txt);

    json_decref(body);
    return send_response(c, status, MHD_create_response_from_buffer(n, txt, MHD_RESPMEM_MUST_FREE),
                         "application/json");
}

static bool
authorized(const http_srv_t *h, struct MHD_Connection *c)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    size_t n = strlen(h->token);

    if (v == NULL || strncmp(v, "Bearer ", 7) != 0 || strlen(v + 7) != n)
        return false;
    return sodium_memcmp(v + 7, h->token, n) == 0; /* constant time */
}

static bool
valid_name(const char *s, size_t n)
{
    return n > 0 && n <= 128 &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") >= n;
}

/* The shared connection to the primary, with h->mu held; NULL (unlocked) when unreachable. */
static pg_t *
lock_pg(http_srv_t *h)
{
    char *err = NULL;

    pthread_mutex_lock(&h->mu);
    if (h->pg == NULL && (h->pg = pg_connect(h->conninfo, &err)) == NULL) {
        pthread_mutex_unlock(&h->mu);
        log_debug("http: cannot reach the primary: %s", err);
        free(err);
        return NULL;
    }
    return h->pg;
}

/* Releases h->mu; a lost connection is dropped (the next request connects again). */
static void
unlock_pg(http_srv_t *h, bool failed)
{
    if (failed && h->pg &&
        (PQstatus(h->pg->conn) != CONNECTION_OK || pg_classify(pg_sqlstate(h->pg)) == PG_CONN_LOST))
        pg_close(&h->pg);
    pthread_mutex_unlock(&h->mu);
}

/* Prometheus: the durable state's metrics; convoy_state_up 0 when the primary is away. */
static enum MHD_Result
metrics(http_srv_t *h, struct MHD_Connection *c)
{
    metrics_snapshot_t s;
    char *err = NULL, *text;
    pg_t *pg = lock_pg(h);
    bool ok;

    if (pg == NULL) {
        memset(&s, 0, sizeof(s));
        s.version = CONVOY_VERSION;
        ok = false;
    } else {
        ok = metrics_collect(pg, h->cluster, h->max_lag_ms, &s, &err);
        unlock_pg(h, !ok);
    }
    if (!ok) {
        log_warn("metrics: %s", err ? err : "the primary cannot be reached");
        free(err);
    }
    text = metrics_render(&s);
    metrics_snapshot_free(&s);
    return send_response(c, MHD_HTTP_OK,
                         MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE),
                         "text/plain; version=0.0.4; charset=utf-8");
}

/* The live view's document: migrations, fleet, gates, the audit tail. */
static enum MHD_Result
overview(http_srv_t *h, struct MHD_Connection *c)
{
    char *err = NULL;
    json_t *doc = NULL;
    pg_t *pg = lock_pg(h);

    if (pg != NULL) {
        doc = dashboard_overview(pg, h->cluster, h->max_lag_ms, &err);
        unlock_pg(h, doc == NULL);
    }
    if (doc == NULL) {
        json_t *b = json_pack("{s:s, s:s?}", "error", "the coordinator cannot read the primary",
                              "detail", err);
        free(err);
        return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, b);
    }
    return reply(c, MHD_HTTP_OK, doc);
}

/* The client's address, for the audit log. */
static void
client_address(struct MHD_Connection *c, char *buf, size_t len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

    snprintf(buf, len, "?");
    if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, buf,
                  (socklen_t)len);
}

/* POST /v1/migrations/NAME/{pause,resume,abort} */
static enum MHD_Result
operator_request(http_srv_t *h, struct MHD_Connection *c, const char *name, operator_op_t op)
{
    char client[64];
    unsigned status = MHD_HTTP_SERVICE_UNAVAILABLE;
    json_t *body;

    client_address(c, client, sizeof(client));
    if (op == OP_ABORT) {
        /* engine_abort opens its own connection and may clean up itself: no shared lock */
        char *actor;
        pthread_mutex_lock(&h->mu);
        actor = xstrdup(h->actor ? h->actor : "convoy coordinator");
        pthread_mutex_unlock(&h->mu);
        body = dashboard_request(NULL, h->conninfo, actor, name, op, client, &status);
        free(actor);
    } else {
        pg_t *pg = lock_pg(h);
        if (pg == NULL)
            return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                         json_pack("{s:s}", "error", "the coordinator cannot reach the primary"));
        body = dashboard_request(pg, h->conninfo, h->actor, name, op, client, &status);
        unlock_pg(h, status >= 500);
    }
    return reply(c, status, body);
}

/* The page's files. They hold no data (that needs the token), so they need none. */
static enum MHD_Result
asset(struct MHD_Connection *c, const web_asset_t *a)
{
    return send_response(
        c, MHD_HTTP_OK,
        MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT),
        a->content_type);
}

/* The gate's state, evaluated now; 404 for an unknown migration. */
static enum MHD_Result
gate(http_srv_t *h, struct MHD_Connection *c, const char *name, const char *which, bool flagger)
{
    dgate_state_t st = DG_PENDING;
    json_t *reasons = NULL;
    char *err = NULL;
    bool ok, known;
    unsigned status;

    pthread_mutex_lock(&h->mu);
    if (h->pg == NULL && (h->pg = pg_connect(h->conninfo, &err)) == NULL) {
        pthread_mutex_unlock(&h->mu);
        {
            json_t *b = json_pack("{s:s, s:[s]}", "state", "pending", "reasons",
                                  "the coordinator cannot reach the primary");
            free(err);
            /* fail closed, but keep Argo's 2xx: the gate is simply not open */
            return reply(c, flagger ? MHD_HTTP_CONFLICT : MHD_HTTP_OK, b);
        }
    }
    {
        const char *p[1] = {name};
        char *v = pg_value(h->pg, "SELECT 1 FROM convoy.migrations WHERE name = $1", 1, p);
        known = v != NULL;
        free(v);
    }
    ok = known && gates_evaluate(h->pg, name, which, &st, &reasons);
    if (!ok && pg_classify(pg_sqlstate(h->pg)) == PG_CONN_LOST)
        pg_close(&h->pg);
    pthread_mutex_unlock(&h->mu);
    if (!known) {
        json_decref(reasons);
        return reply(c, MHD_HTTP_NOT_FOUND,
                     json_pack("{s:s}", "error", "no migration of that name"));
    }
    if (!ok) {
        json_decref(reasons);
        reasons = json_pack("[s]", "the gate could not be evaluated");
        st = DG_PENDING;
    }
    status = !flagger          ? MHD_HTTP_OK
             : st == DG_OPEN   ? MHD_HTTP_OK
             : st == DG_FAILED ? MHD_HTTP_GONE
                               : MHD_HTTP_CONFLICT;
    return reply(c, status,
                 json_pack("{s:s, s:s, s:s, s:o}", "migration", name, "gate", which, "state",
                           dgate_state_name(st), "reasons", reasons));
}

static enum MHD_Result
on_request(void *cls,
           struct MHD_Connection *c,
           const char *url,
           const char *method,
           const char *version,
           const char *upload,
           size_t *upload_size,
           void **state)
{
    http_srv_t *h = cls;
    static int first;
    const char *rest, *which;
    size_t n;

    (void)version;
    (void)upload;
    if (*state == NULL) { /* headers only: answer once the body (ignored) is in */
        *state = &first;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "GET") == 0 && web_asset_find(url) != NULL)
        return asset(c, web_asset_find(url));
    if (!authorized(h, c))
        return reply(c, MHD_HTTP_UNAUTHORIZED,
                     json_pack("{s:s}", "error", "missing or wrong bearer token"));
    if (strcmp(url, "/metrics") == 0 || strcmp(url, "/v1/overview") == 0) {
        if (strcmp(method, "GET") != 0)
            return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, json_pack("{s:s}", "error", "GET it"));
        return url[1] == 'm' ? metrics(h, c) : overview(h, c);
    }
    if (strncmp(url, "/v1/migrations/", 15) == 0) {
        static const char *const ops[] = {"/pause", "/resume", "/abort"};
        rest = url + 15;
        n = strcspn(rest, "/");
        if (!valid_name(rest, n))
            return reply(c, MHD_HTTP_NOT_FOUND, json_pack("{s:s}", "error", "no such migration"));
        for (int k = 0; k < 3; k++)
            if (strcmp(rest + n, ops[k]) == 0) {
                char *name;
                enum MHD_Result res;
                if (strcmp(method, "POST") != 0)
                    return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                                 json_pack("{s:s}", "error", "POST a request"));
                name = xstrndup(rest, n);
                res = operator_request(h, c, name, (operator_op_t)k);
                free(name);
                return res;
            }
        return reply(c, MHD_HTTP_NOT_FOUND, json_pack("{s:s}", "error", "no such endpoint"));
    }
    if (strncmp(url, "/v1/gates/", 10) != 0)
        return reply(c, MHD_HTTP_NOT_FOUND, json_pack("{s:s}", "error", "no such endpoint"));
    rest = url + 10;
    n = strcspn(rest, "/");
    if (!valid_name(rest, n))
        return reply(c, MHD_HTTP_NOT_FOUND, json_pack("{s:s}", "error", "no such migration"));
    which = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "gate");
    if (which == NULL)
        which = "expand";
    if (strcmp(which, "expand") != 0 && strcmp(which, "contract") != 0)
        return reply(c, MHD_HTTP_BAD_REQUEST,
                     json_pack("{s:s}", "error", "gate is expand or contract"));
    {
        char *name = xstrndup(rest, n);
        enum MHD_Result res;
        if (rest[n] == '\0' && strcmp(method, "GET") == 0)
            res = gate(h, c, name, which, false);
        else if (strcmp(rest + n, "/flagger") == 0 && strcmp(method, "POST") == 0)
            res = gate(h, c, name, which, true);
        else if (rest[n] == '\0' || strcmp(rest + n, "/flagger") == 0)
            res = reply(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                        json_pack("{s:s}", "error", "GET the gate; POST .../flagger"));
        else
            res = reply(c, MHD_HTTP_NOT_FOUND, json_pack("{s:s}", "error", "no such endpoint"));
        free(name);
        return res;
    }
}

http_srv_t *
http_start(const char *bind, const char *token, const char *conninfo, char **err)
{
    struct sockaddr_in sa;
    const char *colon = strrchr(bind, ':');
    char host[64];
    long port;
    http_srv_t *h;

    if (colon == NULL || (size_t)(colon - bind) >= sizeof(host) ||
        (port = strtol(colon + 1, NULL, 10)) <= 0 || port > 65535) {
        *err = xasprintf("http = %s: write HOST:PORT, e.g. 127.0.0.1:7480", bind);
        return NULL;
    }
    memcpy(host, bind, (size_t)(colon - bind));
    host[colon - bind] = '\0';
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        *err = xasprintf("http = %s: %s is not an IPv4 address", bind, host);
        return NULL;
    }
    h = xcalloc(1, sizeof(*h));
    h->token = xstrdup(token);
    h->conninfo = xstrdup(conninfo);
    pthread_mutex_init(&h->mu, NULL);
    /* a thread per connection: an abort that cleans up itself does not stall the others */
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                            NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_END);
    if (h->d == NULL) {
        *err = xasprintf("cannot listen on %s (in use?)", bind);
        http_stop(h);
        return NULL;
    }
    return h;
}

void
http_set_context(http_srv_t *h, const http_context_t *ctx)
{
    pthread_mutex_lock(&h->mu);
    free(h->cluster);
    free(h->actor);
    h->cluster = ctx->cluster ? xstrdup(ctx->cluster) : NULL;
    h->actor = ctx->actor ? xstrdup(ctx->actor) : NULL;
    h->max_lag_ms = ctx->max_lag_ms;
    pthread_mutex_unlock(&h->mu);
}

void
http_stop(http_srv_t *h)
{
    if (h == NULL)
        return;
    if (h->d)
        MHD_stop_daemon(h->d);
    pg_close(&h->pg);
    sodium_memzero(h->token, strlen(h->token));
    free(h->token);
    free(h->conninfo);
    free(h->cluster);
    free(h->actor);
    pthread_mutex_destroy(&h->mu);
    free(h);
}
