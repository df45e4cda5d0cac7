/* cluster_config.c: the cluster config file (see include/convoy/cluster.h). */
#include "convoy/cluster.h"
#include "convoy/transport.h"
#include "convoy/util.h"

#include <errno.h>
#include <ini.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    cluster_t *c;
    FILE *f;
    int line;
    sb_t errors;
    cluster_node_t *cur; /* the [node NAME] being read */
    bool in_cluster;
    int cluster_line;
} reader_t;

static void err_at(reader_t *r, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
err_at(reader_t *r, int line, const char *fmt, ...)
{
    va_list ap;

    sb_printf(&r->errors, "%s:%d: ", r->c->path, line);
    va_start(ap, fmt);
    sb_vprintf(&r->errors, fmt, ap);
    va_end(ap);
    sb_putc(&r->errors, '\n');
}

/* inih reads one line per call: counting them gives handlers their line number. */
static char *
read_line(char *buf, int size, void *stream)
{
    reader_t *r = stream;
    char *s = fgets(buf, size, r->f);
    if (s)
        r->line++;
    return s;
}

static bool
parse_bool(const char *v, bool *out)
{
    if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on") || !strcmp(v, "1"))
        *out = true;
    else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off") ||
             !strcmp(v, "0"))
        *out = false;
    else
        return false;
    return true;
}

static void
set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = xstrdup(v);
}

static void
duration(reader_t *r, const char *key, const char *v, int64_t *out)
{
    if (!parse_duration_ms(v, out) || *out <= 0)
        err_at(r, r->line, "%s = %s: not a duration; write it like 100ms, 2s or 1.5s", key, v);
}

static int
on_cluster_key(reader_t *r, const char *key, const char *v)
{
    cluster_t *c = r->c;

    if (!strcmp(key, "name"))
        set_str(&c->name, v);
    else if (!strcmp(key, "bind"))
        set_str(&c->bind, v);
    else if (!strcmp(key, "key_file"))
        set_str(&c->key_file, v);
    else if (!strcmp(key, "pause_file"))
        set_str(&c->pause_file, v);
    else if (!strcmp(key, "http"))
        set_str(&c->http, v);
    else if (!strcmp(key, "http_token_file"))
        set_str(&c->http_token_file, v);
    else if (!strcmp(key, "heartbeat"))
        duration(r, key, v, &c->heartbeat_ms);
    else if (!strcmp(key, "max_lag"))
        duration(r, key, v, &c->max_lag_ms);
    else if (!strcmp(key, "replay_timeout"))
        duration(r, key, v, &c->replay_timeout_ms);
    else if (!strcmp(key, "reader_hold"))
        duration(r, key, v, &c->reader_hold_ms);
    else if (!strcmp(key, "health_grace"))
        duration(r, key, v, &c->health_grace_ms);
    else if (!strcmp(key, "error_rate_limit")) {
        char *end = NULL;
        c->error_rate_limit = strtod(v, &end);
        if (end == v || *end != '\0' || c->error_rate_limit < 0)
            err_at(r, r->line, "error_rate_limit = %s: errors per second, e.g. 5 or 0.5", v);
    } else if (!strcmp(key, "rollback_rate_limit") || !strcmp(key, "deadlock_rate_limit")) {
        double *out = key[0] == 'r' ? &c->rollback_rate_limit : &c->deadlock_rate_limit;
        char *end = NULL;
        if (!strcmp(v, "off")) {
            *out = -1;
        } else {
            *out = strtod(v, &end);
            if (end == v || *end != '\0' || *out < 0)
                err_at(r, r->line, "%s = %s: per second on the primary, e.g. 50 or 0, or off", key,
                       v);
        }
    } else if (!strcmp(key, "health_action")) {
        if (!strcmp(v, "pause") || !strcmp(v, "abort"))
            c->health_abort = v[0] == 'a';
        else
            err_at(r, r->line,
                   "health_action = %s: pause (wait for an operator, the default) or abort", v);
    } else if (!strcmp(key, "insecure")) {
        if (!parse_bool(v, &c->insecure))
            err_at(r, r->line, "insecure = %s: write true or false", v);
    } else
        err_at(r, r->line,
               "unknown key `%s` in [cluster] (known: name, bind, key_file, heartbeat, max_lag, "
               "replay_timeout, reader_hold, error_rate_limit, health_grace, "
               "rollback_rate_limit, deadlock_rate_limit, health_action, pause_file, http, "
               "http_token_file, "
               "insecure)",
               key);
    return 1;
}

static int
on_node_key(reader_t *r, const char *key, const char *v)
{
    cluster_node_t *n = r->cur;

    if (!strcmp(key, "role")) {
        n->replica = n->cache = n->app = false;
        if (!strcmp(v, "primary"))
            n->primary = true;
        else if (!strcmp(v, "replica"))
            n->replica = true;
        else if (!strcmp(v, "cache"))
            n->cache = true;
        else if (!strcmp(v, "app"))
            n->app = true;
        else
            err_at(r, r->line, "role = %s: write primary, replica, cache or app", v);
        n->role_given = true;
    } else if (!strcmp(key, "conninfo")) {
        set_str(&n->conninfo, v);
    } else if (!strcmp(key, "agent_key")) {
        /* a 40-character Z85 key as is (Z85 has '/' in its alphabet); anything else is a
         * path, relative to this file */
        char *path =
            strlen(v) == 40 && keys_read_public(v, n->key, NULL) ? NULL : cluster_path(r->c, v);
        char *e = NULL;
        n->key_given = true;
        if (path && !keys_read_public(path, n->key, &e)) {
            err_at(r, r->line, "agent_key: %s", e);
            free(e);
        }
        free(path);
    } else {
        err_at(r, r->line, "unknown key `%s` in [node %s] (known: role, conninfo, agent_key)", key,
               n->name);
    }
    return 1;
}

static int
on_entry(void *user, const char *section, const char *key, const char *v)
{
    reader_t *r = user;
    cluster_t *c = r->c;

    if (!strcmp(section, "cluster")) {
        if (!r->in_cluster)
            r->cluster_line = r->line;
        r->in_cluster = true;
        return on_cluster_key(r, key, v);
    }
    if (!strncmp(section, "node ", 5) && section[5]) {
        const char *name = section + 5;
        if (r->cur == NULL || strcmp(r->cur->name, name) != 0) {
            for (size_t i = 0; i < c->n_nodes; i++)
                if (!strcmp(c->nodes[i].name, name))
                    err_at(r, r->line, "[node %s] appears twice (first at line %d)", name,
                           c->nodes[i].line);
            c->nodes = xrealloc(c->nodes, (c->n_nodes + 1) * sizeof(*c->nodes));
            r->cur = &c->nodes[c->n_nodes++];
            memset(r->cur, 0, sizeof(*r->cur));
            r->cur->name = xstrdup(name);
            r->cur->line = r->line;
        }
        return on_node_key(r, key, v);
    }
    err_at(r, r->line, "unknown section [%s] (known: [cluster], [node NAME])", section);
    return 1;
}

bool
cluster_load(const char *path, cluster_t *c, char **errors)
{
    reader_t r = {0};
    int rc;
    int primaries = 0;

    memset(c, 0, sizeof(*c));
    c->path = xstrdup(path);
    c->heartbeat_ms = 100;
    c->max_lag_ms = 1000;
    c->replay_timeout_ms = 60000;
    c->reader_hold_ms = 30000;
    c->error_rate_limit = 1.0;
    c->health_grace_ms = 30000;
    c->rollback_rate_limit = -1; /* off: an application's normal rollbacks vary too much */
    c->deadlock_rate_limit = 0;  /* any deadlock on the primary holds the next batch */
    r.c = c;
    sb_init(&r.errors);
    r.f = fopen(path, "r");
    if (r.f == NULL) {
        *errors = xasprintf("%s: %s (give the cluster config with --cluster FILE or "
                            "$CONVOY_CLUSTER)",
                            path, strerror(errno));
        sb_free(&r.errors);
        return false;
    }
    rc = ini_parse_stream(read_line, &r, on_entry, &r);
    fclose(r.f);
    if (rc > 0)
        err_at(&r, rc, "not INI syntax: write `key = value` lines under [cluster] or [node NAME]");
    if (c->name == NULL)
        set_str(&c->name, "default");
    if (c->bind == NULL)
        err_at(&r, r.cluster_line ? r.cluster_line : 1,
               "[cluster] needs bind (e.g. bind = tcp://127.0.0.1:7400)");
    if (!c->insecure && c->key_file == NULL)
        err_at(&r, r.cluster_line ? r.cluster_line : 1,
               "[cluster] needs key_file (write one with `convoy keygen --out keys/coordinator`), "
               "or insecure = true");
    if (c->http && c->http_token_file == NULL)
        err_at(&r, r.cluster_line ? r.cluster_line : 1,
               "[cluster] http needs http_token_file (a file holding the bearer token)");
    for (size_t i = 0; i < c->n_nodes; i++) {
        cluster_node_t *n = &c->nodes[i];
        if (!n->role_given)
            err_at(&r, n->line, "[node %s] needs role (primary, replica, cache or app)", n->name);
        if (n->primary)
            primaries++;
        if (n->conninfo == NULL)
            err_at(&r, n->line, "[node %s] needs conninfo", n->name);
        if (!c->insecure && !n->key_given)
            err_at(&r, n->line, "[node %s] needs agent_key (the agent's .pub file or key)",
                   n->name);
    }
    if (primaries != 1)
        err_at(&r, r.line ? r.line : 1,
               "the cluster needs exactly one [node NAME] with role = primary (found %d)",
               primaries);
    if (r.errors.len) {
        r.errors.data[r.errors.len - 1] = '\0';
        *errors = sb_steal(&r.errors);
        return false;
    }
    sb_free(&r.errors);
    return true;
}

void
cluster_free(cluster_t *c)
{
    for (size_t i = 0; i < c->n_nodes; i++) {
        free(c->nodes[i].name);
        free(c->nodes[i].conninfo);
    }
    free(c->nodes);
    free(c->path);
    free(c->name);
    free(c->bind);
    free(c->key_file);
    free(c->pause_file);
    free(c->http);
    free(c->http_token_file);
    memset(c, 0, sizeof(*c));
}

const cluster_node_t *
cluster_primary(const cluster_t *c)
{
    for (size_t i = 0; i < c->n_nodes; i++)
        if (c->nodes[i].primary)
            return &c->nodes[i];
    return NULL;
}

char *
cluster_path(const cluster_t *c, const char *p)
{
    char *copy, *dir, *out;

    if (p[0] == '/')
        return xstrdup(p);
    copy = xstrdup(c->path);
    dir = dirname(copy);
    out = xasprintf("%s/%s", dir, p);
    free(copy);
    return out;
}
