/* http.c: the gate API over libmicrohttpd (see include/convoy/http.h). */
#include "convoy/http.h"

#include "convoy/gates.h"
#include "convoy/log.h"
#include "convoy/pg.h"
#include "convoy/util.h"

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
    pthread_mutex_t mu; /* one request at a time on the connection */
    pg_t *pg;
};

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned status, json_t *body)
{
    char *txt = json_dumps(body, JSON_COMPACT);
    size_t n = strlen(txt);
    struct MHD_Response *r = MHD_create_response_from_buffer(n, txt, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result ok;

    json_decref(body);
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"convoy\"");
    ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
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
    if (!authorized(h, c))
        return reply(c, MHD_HTTP_UNAUTHORIZED,
                     json_pack("{s:s}", "error", "missing or wrong bearer token"));
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
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request, h,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
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
    pthread_mutex_destroy(&h->mu);
    free(h);
}
