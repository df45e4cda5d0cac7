/*
 * cache.c: the Redis side of role = cache (see cache.h), on hiredis' blocking API.
 *
 * redisConnectWithTimeout bounds the connect, redisSetTimeout every reply, and TCP
 * keepalive a dead peer. hiredis writes to the socket without MSG_NOSIGNAL: the agent
 * ignores SIGPIPE (agent.c), so a Redis that went away is an EPIPE error here, not a
 * signal. Once a context has failed hiredis cannot use it again: it is freed, and the next
 * cache_connect makes a new one.
 */
#include "cache.h"

#include "convoy/log.h"
#include "convoy/util.h"
#include "keybatch.h"

#include <hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

typedef enum { CACHE_UNKNOWN, CACHE_UP, CACHE_DOWN } cache_state_t;

typedef enum { COUNT_INTEGER, COUNT_ONE, COUNT_NOTHING } count_t;

typedef struct {
    size_t slot;
    count_t count;
} queued_t;

struct cache {
    char *url; /* for log lines: no password in it */
    char *host;
    int port;
    int db;
    char *password; /* NULL: no AUTH */

    redisContext *ctx;
    cache_state_t state; /* of the connection: down is logged once, and up again once */
    bool healthy;        /* connected and nothing failed since the last success */
    bool reply_failed;   /* an error reply to outbox work, and no batch went through since */
    char *error;         /* "" while healthy */
    int64_t retry_at;
    int64_t backoff;
    int64_t down_since;
    int64_t last_ok;

    queued_t *queued;
    size_t n_queued, cap_queued;
    sb_t resp;          /* the RESP of one row's UNLINKs, reused */
    bool append_failed; /* an append ran out of memory: the flush fails */
};

/* ---- helpers --------------------------------------------------------------------- */

/* Text from Redis or hiredis as one printable line of at most CACHE_MAX_ERROR bytes. */
static char *
one_line(const char *s, size_t len)
{
    sb_t sb;

    sb_init(&sb);
    sb_puts(&sb, "");
    for (size_t i = 0; i < len && sb.len < CACHE_MAX_ERROR; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\r' || ch == '\n' || ch == '\t')
            sb_putc(&sb, ' ');
        else if (ch < 0x20 || ch == 0x7f)
            sb_putc(&sb, '?');
        else
            sb_putc(&sb, (char)ch);
    }
    while (sb.len > 0 && sb.data[sb.len - 1] == ' ')
        sb.data[--sb.len] = '\0';
    return sb_steal(&sb);
}

static struct timeval
timeout_tv(void)
{
    struct timeval tv;

    tv.tv_sec = CACHE_TIMEOUT_MS / 1000;
    tv.tv_usec = (CACHE_TIMEOUT_MS % 1000) * 1000;
    return tv;
}

static void
drop_context(cache_t *c)
{
    if (c->ctx)
        redisFree(c->ctx);
    c->ctx = NULL;
    c->n_queued = 0;
    c->append_failed = false;
}

static void
set_password(cache_t *c, const char *password)
{
    if (c->password) {
        memset(c->password, 0, strlen(c->password));
        free(c->password);
    }
    c->password = password && *password ? xstrdup(password) : NULL;
}

/* ---- life cycle ------------------------------------------------------------------- */

cache_t *
cache_new(const char *url, const char *host, int port, int db, const char *password)
{
    cache_t *c = xcalloc(1, sizeof(*c));

    c->url = xstrdup(url);
    c->host = xstrdup(host);
    c->port = port;
    c->db = db;
    set_password(c, password);
    c->error = xstrdup("not connected yet");
    c->backoff = CACHE_BACKOFF_MIN;
    sb_init(&c->resp);
    return c;
}

void
cache_free(cache_t *c)
{
    if (c == NULL)
        return;
    drop_context(c);
    set_password(c, NULL);
    free(c->url);
    free(c->host);
    free(c->error);
    free(c->queued);
    sb_free(&c->resp);
    free(c);
}

void
cache_set_target(
    cache_t *c, const char *url, const char *host, int port, int db, const char *password)
{
    drop_context(c);
    free(c->url);
    free(c->host);
    c->url = xstrdup(url);
    c->host = xstrdup(host);
    c->port = port;
    c->db = db;
    set_password(c, password);
    c->healthy = false;
    free(c->error);
    c->error = xstrdup("reconnecting (the config changed)");
    c->retry_at = 0;
    c->backoff = CACHE_BACKOFF_MIN;
}

bool
cache_connected(const cache_t *c)
{
    return c->ctx != NULL;
}

bool
cache_ok(const cache_t *c)
{
    return c->ctx != NULL && c->healthy && !c->reply_failed;
}

const char *
cache_error(const cache_t *c)
{
    return cache_ok(c) ? "" : c->error;
}

int64_t
cache_retry_at(const cache_t *c)
{
    return c->retry_at;
}

int64_t
cache_last_ok(const cache_t *c)
{
    return c->last_ok;
}

void
cache_failed(cache_t *c, const char *err, bool reply, int64_t now)
{
    char *line = one_line(err, strlen(err));

    drop_context(c);
    c->healthy = false;
    if (reply) { /* Redis is there, but refuses the work: once per distinct error */
        if (!c->reply_failed || strcmp(c->error, line) != 0)
            log_warn("redis %s: %s (redis_ok = false; the rows stay pending and are retried "
                     "with a backoff of %d ms doubling to %d s)",
                     c->url, line, CACHE_BACKOFF_MIN, CACHE_BACKOFF_MAX / 1000);
        else
            log_debug("redis %s: again: %s", c->url, line);
        c->reply_failed = true;
    } else if (c->state != CACHE_DOWN) {
        log_warn("redis %s: down: %s (redis_ok = false; outbox rows stay pending; retrying "
                 "with a backoff of %d ms doubling to %d s)",
                 c->url, line, CACHE_BACKOFF_MIN, CACHE_BACKOFF_MAX / 1000);
        c->state = CACHE_DOWN;
        c->down_since = now;
    } else {
        log_debug("redis %s: still down: %s (next attempt in %lld ms)", c->url, line,
                  (long long)c->backoff);
    }
    free(c->error);
    c->error = line;
    c->retry_at = now + c->backoff;
    c->backoff = c->backoff * 2 > CACHE_BACKOFF_MAX ? CACHE_BACKOFF_MAX : c->backoff * 2;
}

void
cache_succeeded(cache_t *c, int64_t now)
{
    if (c->ctx == NULL)
        return;
    if (c->reply_failed)
        log_info("redis %s: the outbox works again (redis_ok)", c->url);
    c->reply_failed = false;
    c->healthy = true;
    c->backoff = CACHE_BACKOFF_MIN;
    c->last_ok = now;
    free(c->error);
    c->error = xstrdup("");
}

/* ---- the pipeline ----------------------------------------------------------------- */

static void
note_queued(cache_t *c, size_t slot, count_t count, int rc)
{
    if (rc != REDIS_OK) {
        c->append_failed = true;
        return;
    }
    if (c->n_queued == c->cap_queued) {
        c->cap_queued = c->cap_queued ? 2 * c->cap_queued : 64;
        c->queued = xrealloc(c->queued, c->cap_queued * sizeof(*c->queued));
    }
    c->queued[c->n_queued].slot = slot;
    c->queued[c->n_queued].count = count;
    c->n_queued++;
}

void
cache_append_unlink(cache_t *c, size_t slot, char *const *keys, const size_t *lens, size_t n)
{
    if (c->ctx == NULL || n == 0)
        return;
    c->resp.len = 0;
    for (size_t off = 0; off < n; off += CACHE_UNLINK_MAX) {
        size_t k = n - off < CACHE_UNLINK_MAX ? n - off : CACHE_UNLINK_MAX;
        keybatch_resp(&c->resp, "UNLINK", 6, keys + off, lens + off, k);
        note_queued(c, slot, COUNT_INTEGER, REDIS_OK);
    }
    /* one copy into hiredis' output buffer for all of the row's commands */
    if (redisAppendFormattedCommand(c->ctx, c->resp.data, c->resp.len) != REDIS_OK)
        c->append_failed = true;
    if (c->resp.cap > CACHE_RESP_KEEP) { /* do not keep a huge row's buffer for good */
        sb_free(&c->resp);
        sb_init(&c->resp);
    }
}

void
cache_send(cache_t *c)
{
    int done = 0;

    /* a failed write leaves ctx->err set, and cache_flush reports it */
    while (c->ctx && !c->ctx->err && !done)
        if (redisBufferWrite(c->ctx, &done) != REDIS_OK)
            break;
}

void
cache_append_incr(cache_t *c, size_t slot, const char *key, size_t len)
{
    const char *argv[2] = {"INCR", key};
    size_t argvlen[2] = {4, len};

    if (c->ctx == NULL)
        return;
    note_queued(c, slot, COUNT_ONE, redisAppendCommandArgv(c->ctx, 2, argv, argvlen));
}

void
cache_append_ping(cache_t *c, size_t slot)
{
    const char *argv[1] = {"PING"};
    size_t argvlen[1] = {4};

    if (c->ctx == NULL)
        return;
    note_queued(c, slot, COUNT_NOTHING, redisAppendCommandArgv(c->ctx, 1, argv, argvlen));
}

size_t
cache_queued(const cache_t *c)
{
    return c->n_queued;
}

static char *
context_error(const cache_t *c, const char *what)
{
    if (c->ctx == NULL)
        return xasprintf("%s: not connected", what);
    if (c->ctx->err == REDIS_ERR_EOF)
        return xasprintf("%s: the server closed the connection", what);
    if (c->ctx->err == REDIS_ERR_IO &&
        strcmp(c->ctx->errstr, "Resource temporarily unavailable") == 0)
        return xasprintf("%s: no reply within %d ms", what, CACHE_TIMEOUT_MS);
    return xasprintf("%s: %s", what, c->ctx->errstr[0] ? c->ctx->errstr : "connection error");
}

cache_status_t
cache_flush(cache_t *c, long long *sums, char **errs, size_t n_slots, char **err)
{
    cache_status_t st = CACHE_OK;
    size_t n = c->n_queued;

    *err = NULL;
    c->n_queued = 0;
    if (c->ctx == NULL) {
        *err = xstrdup("not connected to Redis");
        return CACHE_CONN_ERROR;
    }
    if (c->append_failed) {
        c->append_failed = false;
        *err = xstrdup("out of memory queueing Redis commands");
        return CACHE_CONN_ERROR;
    }
    for (size_t i = 0; i < n; i++) {
        const queued_t *q = &c->queued[i];
        redisReply *r = NULL;

        if (redisGetReply(c->ctx, (void **)&r) != REDIS_OK || r == NULL) {
            *err = context_error(c, "reading a reply");
            if (r)
                freeReplyObject(r);
            return CACHE_CONN_ERROR;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            if (errs && q->slot < n_slots && errs[q->slot] == NULL)
                errs[q->slot] = one_line(r->str ? r->str : "", r->str ? r->len : 0);
            st = CACHE_REPLY_ERROR;
        } else if (q->count == COUNT_INTEGER || q->count == COUNT_ONE) {
            if (r->type != REDIS_REPLY_INTEGER) {
                freeReplyObject(r);
                *err = xstrdup("an unexpected reply (not an integer) to UNLINK or INCR");
                return CACHE_CONN_ERROR; /* out of step with the server: reconnect */
            }
            if (sums && q->slot < n_slots)
                sums[q->slot] += q->count == COUNT_INTEGER ? r->integer : 1;
        }
        freeReplyObject(r);
    }
    return st;
}

/* ---- connect ---------------------------------------------------------------------- */

bool
cache_connect(cache_t *c, int64_t now)
{
    const char *argv[2];
    size_t argvlen[2];
    char dbtext[16];
    char *err = NULL;
    char *errs[2] = {NULL, NULL};
    cache_status_t st;

    if (c->ctx)
        return true;
    if (now < c->retry_at)
        return false;
    c->ctx = redisConnectWithTimeout(c->host, c->port, timeout_tv());
    if (c->ctx == NULL || c->ctx->err) {
        char *msg = c->ctx ? xasprintf("cannot connect: %s", c->ctx->errstr)
                           : xstrdup("cannot connect: out of memory");
        cache_failed(c, msg, false, now);
        free(msg);
        return false;
    }
    if (redisSetTimeout(c->ctx, timeout_tv()) != REDIS_OK ||
        redisEnableKeepAlive(c->ctx) != REDIS_OK) {
        char *msg = context_error(c, "cannot set the socket's timeout and keepalive");
        cache_failed(c, msg, false, now);
        free(msg);
        return false;
    }
    c->n_queued = 0;
    if (c->password) { /* slot 0; never logged, and no error reply echoes it */
        argv[0] = "AUTH";
        argvlen[0] = 4;
        argv[1] = c->password;
        argvlen[1] = strlen(c->password);
        note_queued(c, 0, COUNT_NOTHING, redisAppendCommandArgv(c->ctx, 2, argv, argvlen));
    }
    snprintf(dbtext, sizeof(dbtext), "%d", c->db);
    argv[0] = "SELECT";
    argvlen[0] = 6;
    argv[1] = dbtext;
    argvlen[1] = strlen(dbtext);
    note_queued(c, 1, COUNT_NOTHING, redisAppendCommandArgv(c->ctx, 2, argv, argvlen));
    st = cache_flush(c, NULL, errs, 2, &err);
    if (st != CACHE_OK) {
        char *msg = st == CACHE_CONN_ERROR ? xasprintf("cannot connect: %s", err)
                    : errs[0]              ? xasprintf("AUTH refused: %s", errs[0])
                              : xasprintf("SELECT %d refused: %s", c->db, errs[1] ? errs[1] : "?");
        cache_failed(c, msg, false, now);
        free(msg);
        free(err);
        free(errs[0]);
        free(errs[1]);
        return false;
    }
    if (c->state == CACHE_DOWN) {
        char took[32];
        format_duration(now - c->down_since, took, sizeof(took));
        log_info("redis %s: up again after %s%s", c->url, took,
                 c->reply_failed ? "" : " (redis_ok)");
    } else if (c->state == CACHE_UNKNOWN) {
        log_info("redis %s: connected%s", c->url, c->password ? " (AUTH)" : "");
    } else { /* reconnected after an error reply: said once already */
        log_debug("redis %s: reconnected", c->url);
    }
    c->state = CACHE_UP;
    c->healthy = true;
    c->last_ok = now;
    if (!c->reply_failed) { /* else the error stays until the outbox works again */
        free(c->error);
        c->error = xstrdup("");
    }
    return true;
}

/* ---- purge ------------------------------------------------------------------------ */

cache_status_t
cache_scan_unlink(cache_t *c,
                  char cursor[CACHE_CURSOR_BYTES],
                  const char *pattern,
                  size_t pattern_len,
                  long long *matched,
                  long long *removed,
                  char **err)
{
    const char *argv[6] = {"SCAN", cursor, "MATCH", pattern, "COUNT", CACHE_SCAN_COUNT};
    size_t argvlen[6] = {4, strlen(cursor), 5, pattern_len, 5, strlen(CACHE_SCAN_COUNT)};
    redisReply *r = NULL, *keys;
    char **names;
    size_t *lens, n;
    long long sum = 0;
    char *rerr = NULL;
    cache_status_t st;

    *err = NULL;
    *matched = 0;
    *removed = 0;
    if (c->ctx == NULL) {
        *err = xstrdup("not connected to Redis");
        return CACHE_CONN_ERROR;
    }
    if (c->n_queued != 0) {
        *err = xstrdup("SCAN with commands still queued");
        return CACHE_CONN_ERROR;
    }
    if (redisAppendCommandArgv(c->ctx, 6, argv, argvlen) != REDIS_OK ||
        redisGetReply(c->ctx, (void **)&r) != REDIS_OK || r == NULL) {
        *err = context_error(c, "SCAN");
        if (r)
            freeReplyObject(r);
        return CACHE_CONN_ERROR;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        char *line = one_line(r->str ? r->str : "", r->str ? r->len : 0);
        *err = xasprintf("SCAN: %s", line);
        free(line);
        freeReplyObject(r);
        return CACHE_REPLY_ERROR;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len == 0 ||
        r->element[0]->len >= CACHE_CURSOR_BYTES || r->element[1]->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        *err = xstrdup("SCAN: an unexpected reply");
        return CACHE_CONN_ERROR;
    }
    keys = r->element[1];
    n = keys->elements;
    names = xcalloc(n ? n : 1, sizeof(*names));
    lens = xcalloc(n ? n : 1, sizeof(*lens));
    for (size_t i = 0; i < n; i++) {
        if (keys->element[i]->type != REDIS_REPLY_STRING) {
            free(names);
            free(lens);
            freeReplyObject(r);
            *err = xstrdup("SCAN: an unexpected reply (a key that is not a string)");
            return CACHE_CONN_ERROR;
        }
        names[i] = keys->element[i]->str;
        lens[i] = keys->element[i]->len;
    }
    cache_append_unlink(c, 0, names, lens, n);
    free(names);
    free(lens);
    memcpy(cursor, r->element[0]->str, r->element[0]->len);
    cursor[r->element[0]->len] = '\0';
    *matched = (long long)n;
    freeReplyObject(r); /* the keys were copied into hiredis' output buffer */
    st = cache_flush(c, &sum, &rerr, 1, err);
    if (st == CACHE_REPLY_ERROR) {
        *err = xasprintf("UNLINK: %s", rerr ? rerr : "?");
    } else if (st == CACHE_CONN_ERROR) {
        char *e = *err;
        *err = xasprintf("UNLINK: %s", e);
        free(e);
    }
    free(rerr);
    *removed = sum;
    return st;
}
