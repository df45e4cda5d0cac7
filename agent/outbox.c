/*
 * outbox.c: the cache agent's worker on convoy.invalidations (see outbox.h).
 *
 * Every value goes to the server as a parameter; the arrays of a batch's UPDATE are text
 * literals built here from integers and booleans only ('{1,2,3}'), and the keys never go
 * back to the server at all. The claim reads its rows in the binary format, so the keys
 * arrive as array_send wrote them (each one's length, then its bytes: nothing to unquote),
 * are cut out by keybatch_from_binary, and go to Redis binary-safe. A row's UNLINKs are sent
 * as soon as that row has arrived, so Redis works on them while the server sends the next.
 */
#include "outbox.h"

#include "cache.h"
#include "convoy/log.h"
#include "convoy/util.h"
#include "keybatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PURGE_POS 64 /* purges in progress remembered between batches */

/*
 * The rows due. $2 true (a batch's own claim): the key rows waiting for their first pass
 * when there are any, else the others (second passes, bumps, purges), so a batch's keys
 * never wait behind the second pass of an older batch, nor its first_at for that work (see
 * claim); $2 false: all of them. One statement, so the choice and the rows it takes come
 * from one moment: an agent paused between two queries cannot take a second pass that
 * fell due while a newer first pass waited.
 */
static const char claim_sql[] =
    "WITH first AS (SELECT id, kind, keys, false FROM convoy.invalidations WHERE $2::boolean "
    "AND confirmed_at IS NULL AND kind = 'key' AND first_at IS NULL ORDER BY id LIMIT 50 FOR "
    "UPDATE SKIP LOCKED), rest AS (SELECT id, kind, keys, first_at IS NOT NULL FROM "
    "convoy.invalidations WHERE confirmed_at IS NULL AND (first_at IS NULL OR first_at <= "
    "clock_timestamp() - $1::interval) AND NOT ($2::boolean AND kind = 'key' AND first_at IS "
    "NULL) AND NOT EXISTS (SELECT FROM first) ORDER BY id LIMIT 50 FOR UPDATE SKIP LOCKED) "
    "SELECT * FROM first UNION ALL SELECT * FROM rest";

static const char record_sql[] =
    "UPDATE convoy.invalidations AS i SET"
    " first_at = CASE WHEN u.first THEN clock_timestamp() ELSE i.first_at END,"
    " claimed_at = CASE WHEN u.first THEN now() ELSE i.claimed_at END," /* the claim's BEGIN */
    " confirmed_at = CASE WHEN u.confirm THEN clock_timestamp() ELSE i.confirmed_at END,"
    " removed = CASE WHEN u.first THEN u.n ELSE coalesce(i.removed, 0) + u.n END,"
    " agent = $5"
    " FROM unnest($1::bigint[], $2::bigint[], $3::boolean[], $4::boolean[])"
    " AS u(id, n, first, confirm)"
    " WHERE i.id = u.id";

static const char attempts_sql[] = "UPDATE convoy.invalidations SET attempts = attempts + 1, "
                                   "last_error = $2 WHERE id = ANY($1)";

typedef enum { ROW_KEY, ROW_BUMP, ROW_PURGE } row_kind_t;

typedef struct {
    int64_t id;
    row_kind_t kind;
    bool second; /* a key row whose first_at is set: this is its second pass */
    char *text;  /* the keys, each NUL-terminated; keys point into it */
    char **keys;
    size_t *lens;
    size_t n_keys;
    char *err;   /* this row failed in this batch: why (its attempts + 1) */
    long long n; /* keys removed in this batch */
    bool update, first, confirm;
    /* purge: where the scan stands after this batch */
    size_t pattern;
    bool started;
    char cursor[CACHE_CURSOR_BYTES];
    long long scans;
} row_t;

typedef struct {
    int64_t id;
    size_t pattern;
    bool started;
    char cursor[CACHE_CURSOR_BYTES];
} purge_pos_t;

struct outbox {
    cache_t *cache;
    char *node;
    int64_t second_pass_ms;
    int64_t purge_rate;
    int64_t *scan_times; /* ring of the last purge_rate SCAN calls (monotonic ms) */
    size_t scan_idx;
    purge_pos_t pos[MAX_PURGE_POS];
    size_t n_pos;
    uint64_t confirmed; /* cache_confirmed: rows this process confirmed */
    int64_t logged_at;
    struct {
        uint64_t batches, rows, first, confirmed, in_progress, removed, incr, scans, failed;
    } acc; /* since the last log line */
};

/* ---- life cycle ------------------------------------------------------------------- */

static void
set_rate(outbox_t *o, int64_t rate)
{
    free(o->scan_times);
    o->purge_rate = rate < 1 ? 1 : rate;
    o->scan_times = xcalloc((size_t)o->purge_rate, sizeof(*o->scan_times));
    o->scan_idx = 0;
}

outbox_t *
outbox_new(const agent_config_t *cfg)
{
    outbox_t *o = xcalloc(1, sizeof(*o));

    o->cache =
        cache_new(cfg->redis, cfg->redis_host, cfg->redis_port, cfg->redis_db, cfg->redis_password);
    o->node = xstrdup(cfg->node);
    o->second_pass_ms = cfg->second_pass_ms;
    set_rate(o, cfg->purge_rate);
    return o;
}

static void log_flush(outbox_t *o, int64_t now, bool force);

void
outbox_free(outbox_t *o)
{
    if (o == NULL)
        return;
    log_flush(o, 0, true);
    cache_free(o->cache);
    free(o->node);
    free(o->scan_times);
    free(o);
}

void
outbox_reconfigure(outbox_t *o, const agent_config_t *cfg, bool target)
{
    if (target)
        cache_set_target(o->cache, cfg->redis, cfg->redis_host, cfg->redis_port, cfg->redis_db,
                         cfg->redis_password);
    if (cfg->second_pass_ms != o->second_pass_ms) {
        log_info("reload: second_pass %lld ms (was %lld ms)", (long long)cfg->second_pass_ms,
                 (long long)o->second_pass_ms);
        o->second_pass_ms = cfg->second_pass_ms;
    }
    if (cfg->purge_rate != o->purge_rate) {
        log_info("reload: purge_rate %lld SCAN/s (was %lld)", (long long)cfg->purge_rate,
                 (long long)o->purge_rate);
        set_rate(o, cfg->purge_rate);
    }
}

/* ---- helpers ---------------------------------------------------------------------- */

static const char *
plural(uint64_t n, const char *many)
{
    return n == 1 ? "" : many;
}

/* One info line for the batches since the last one, at most once a second. */
static void
log_flush(outbox_t *o, int64_t now, bool force)
{
    sb_t sb;

    if (o->acc.batches == 0) { /* failures alone: Redis' down line said it (once) */
        if (o->acc.failed)
            log_debug("outbox: %llu failed attempt%s recorded", (unsigned long long)o->acc.failed,
                      plural(o->acc.failed, "s"));
        o->acc.failed = 0;
        return;
    }
    if (!force && now - o->logged_at < 1000)
        return;
    sb_init(&sb);
    sb_printf(&sb, "outbox: %llu row%s in %llu batch%s (%llu first pass%s, %llu confirmed",
              (unsigned long long)o->acc.rows, plural(o->acc.rows, "s"),
              (unsigned long long)o->acc.batches, plural(o->acc.batches, "es"),
              (unsigned long long)o->acc.first, plural(o->acc.first, "es"),
              (unsigned long long)o->acc.confirmed);
    if (o->acc.in_progress)
        sb_printf(&sb, ", %llu purge step%s", (unsigned long long)o->acc.in_progress,
                  plural(o->acc.in_progress, "s"));
    sb_printf(&sb, "): %llu key%s removed", (unsigned long long)o->acc.removed,
              plural(o->acc.removed, "s"));
    if (o->acc.incr)
        sb_printf(&sb, ", %llu INCR", (unsigned long long)o->acc.incr);
    if (o->acc.scans)
        sb_printf(&sb, ", %llu SCAN", (unsigned long long)o->acc.scans);
    if (o->acc.failed)
        sb_printf(&sb, "; %llu failed attempt%s recorded (attempts, last_error)",
                  (unsigned long long)o->acc.failed, plural(o->acc.failed, "s"));
    log_info("%s", sb.data);
    sb_free(&sb);
    memset(&o->acc, 0, sizeof(o->acc));
    o->logged_at = now;
}

static void
rows_free(row_t *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rows[i].text);
        free(rows[i].keys);
        free(rows[i].lens);
        free(rows[i].err);
    }
    free(rows);
}

/* Ends the claim's transaction, if one is still open (a failed COMMIT already ended it). */
static void
rollback(pg_t *pg)
{
    PGTransactionStatusType ts = PQtransactionStatus(pg->conn);

    if (ts != PQTRANS_INTRANS && ts != PQTRANS_INERROR)
        return;
    if (pg_exec(pg, "ROLLBACK") != PG_OK)
        log_debug("outbox: ROLLBACK: %s", pg_errmsg(pg));
}

/* attempts + 1 and last_error for the rows given, in a statement of its own (autocommit). */
static pg_status_t
record_attempts(pg_t *pg, const int64_t *ids, size_t n, const char *err)
{
    const char *params[2];
    pg_status_t st;
    sb_t sb;

    if (n == 0)
        return PG_OK;
    sb_init(&sb);
    sb_putc(&sb, '{');
    for (size_t i = 0; i < n; i++)
        sb_printf(&sb, "%s%lld", i ? "," : "", (long long)ids[i]);
    sb_putc(&sb, '}');
    params[0] = sb.data;
    params[1] = err;
    st = pg_run(pg, attempts_sql, 2, params, NULL);
    if (st != PG_OK)
        log_debug("outbox: recording attempts: %s", pg_errmsg(pg));
    sb_free(&sb);
    return st;
}

typedef struct {
    outbox_t *o;
    bool start; /* queue the rows' Redis commands (false: only claim them) */
    row_t *rows;
    size_t n, cap;
    bool bad_shape;
} claim_t;

/*
 * One claimed row, as it arrives. A key or bump row's commands go to Redis at once, so Redis
 * works on this row while the server sends the next one and the agent cuts out its keys.
 */
static void
claim_row(const PGresult *res, void *arg)
{
    claim_t *c = arg;
    row_t *r;
    const char *kind;

    if (PQnfields(res) != 4 || PQgetlength(res, 0, 0) != 8 || PQgetlength(res, 0, 3) != 1) {
        c->bad_shape = true; /* not the claim's bigint, text, text[], boolean */
        return;
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 16;
        c->rows = xrealloc(c->rows, c->cap * sizeof(*c->rows));
    }
    r = &c->rows[c->n];
    memset(r, 0, sizeof(*r));
    memcpy(r->cursor, "0", 2);
    r->id = (int64_t)read_be(PQgetvalue(res, 0, 0), 8);
    if (r->id < 1) {
        log_warn("outbox: a row with id %lld: skipped", (long long)r->id);
        return; /* cannot even record an attempt for it (never the case with a bigserial) */
    }
    c->n++;
    r->second = PQgetvalue(res, 0, 3)[0] != 0;
    kind = PQgetvalue(res, 0, 1); /* binary text is its bytes; libpq adds a NUL */
    if (strcmp(kind, "key") == 0)
        r->kind = ROW_KEY;
    else if (strcmp(kind, "bump") == 0)
        r->kind = ROW_BUMP;
    else if (strcmp(kind, "purge") == 0)
        r->kind = ROW_PURGE;
    else
        r->err = xasprintf("unknown kind `%s` (key, bump or purge)", kind);
    if (r->err == NULL) {
        if (PQgetisnull(res, 0, 2) ||
            !keybatch_from_binary(PQgetvalue(res, 0, 2), (size_t)PQgetlength(res, 0, 2), &r->text,
                                  &r->keys, &r->lens, &r->n_keys))
            r->err = xstrdup("cannot parse the keys array");
    }
    if (r->err) {
        log_warn("outbox: row %lld: %s; it stays pending", (long long)r->id, r->err);
        return;
    }
    if (!c->start)
        return;
    if (r->kind == ROW_KEY)
        cache_append_unlink(c->o->cache, c->n - 1, r->keys, r->lens, r->n_keys);
    else if (r->kind == ROW_BUMP)
        for (size_t j = 0; j < r->n_keys; j++)
            cache_append_incr(c->o->cache, c->n - 1, r->keys[j], r->lens[j]);
    cache_send(c->o->cache);
}

/* Reads and drops the replies to commands queued for a claim that failed: the rows stay
 * pending, and the next batch must not count those replies as its own. */
static void
discard_queued(outbox_t *o)
{
    char *err = NULL;

    if (cache_queued(o->cache) > 0 &&
        cache_flush(o->cache, NULL, NULL, 0, &err) == CACHE_CONN_ERROR)
        cache_failed(o->cache, err, false, now_mono_ms());
    free(err);
}

/*
 * Claims a batch inside the open transaction, row by row, queueing (and sending) each key
 * and bump row's Redis commands under its index as it arrives; the replies are read later
 * by cache_flush. start (the batch's own claim): the key rows' first passes when any are
 * due, else the other rows due; !start (only to record attempts): every row due. On an
 * error the rows claimed so far are still returned (their Redis work may be done; the
 * caller rolls back, so it is done again later).
 */
static pg_status_t
claim(outbox_t *o, pg_t *pg, bool start, row_t **rows_out, size_t *n_out)
{
    char interval[48];
    const char *params[2] = {interval, start ? "t" : "f"};
    claim_t c = {.o = o, .start = start};
    pg_status_t st;

    snprintf(interval, sizeof(interval), "%lld milliseconds", (long long)o->second_pass_ms);
    st = pg_run_rows(pg, claim_sql, 2, params, true, claim_row, &c);
    if (st == PG_OK && c.bad_shape)
        st = PG_ERROR;
    *rows_out = c.rows ? c.rows : xcalloc(1, sizeof(row_t));
    *n_out = c.n;
    return st;
}

static purge_pos_t *
pos_find(outbox_t *o, int64_t id)
{
    for (size_t i = 0; i < o->n_pos; i++)
        if (o->pos[i].id == id)
            return &o->pos[i];
    return NULL;
}

static void
pos_forget(outbox_t *o, int64_t id)
{
    purge_pos_t *p = pos_find(o, id);

    if (p)
        *p = o->pos[--o->n_pos];
}

static void
pos_keep(outbox_t *o, const row_t *r)
{
    purge_pos_t *p = pos_find(o, r->id);

    if (p == NULL) {
        if (o->n_pos == MAX_PURGE_POS) /* the oldest goes: that purge starts over */
            memmove(&o->pos[0], &o->pos[1], (MAX_PURGE_POS - 1) * sizeof(o->pos[0]));
        else
            o->n_pos++;
        p = &o->pos[o->n_pos - 1];
    }
    p->id = r->id;
    p->pattern = r->pattern;
    p->started = r->started;
    memcpy(p->cursor, r->cursor, sizeof(p->cursor));
}

/* A SCAN may go now: fewer than purge_rate calls in the last second. */
static bool
scan_allowed(const outbox_t *o, int64_t now)
{
    return o->scan_times[o->scan_idx] == 0 || now - o->scan_times[o->scan_idx] >= 1000;
}

static void
scan_taken(outbox_t *o, int64_t now)
{
    o->scan_times[o->scan_idx] = now;
    o->scan_idx = (o->scan_idx + 1) % (size_t)o->purge_rate;
}

/* When a quarter second's worth of SCAN calls may go again: a rate-limited purge then
 * does a few SCANs a batch, not one transaction per SCAN. */
static int64_t
scan_next_at(const outbox_t *o)
{
    size_t rate = (size_t)o->purge_rate, k = rate / 4 ? rate / 4 : 1;

    return o->scan_times[(o->scan_idx + k - 1) % rate] + 1000;
}

/*
 * A Redis error in a batch: the claim is rolled back, then the failed rows (all of them when
 * the connection failed) get attempts + 1 and last_error, and Redis is retried later.
 */
static pg_status_t
redis_failure(outbox_t *o, pg_t *pg, row_t *rows, size_t n, bool all, const char *err, int64_t now)
{
    int64_t *ids = xcalloc(n ? n : 1, sizeof(*ids));
    size_t k = 0;
    pg_status_t st = PG_OK;

    rollback(pg);
    if (all) {
        char *last = xasprintf("redis: %s", err);
        for (size_t i = 0; i < n; i++)
            ids[k++] = rows[i].id;
        st = record_attempts(pg, ids, k, last);
        free(last);
    } else {
        for (size_t i = 0; i < n && st == PG_OK; i++)
            if (rows[i].err) {
                ids[0] = rows[i].id;
                k++;
                st = record_attempts(pg, ids, 1, rows[i].err);
            }
    }
    o->acc.failed += k;
    free(ids);
    cache_failed(o->cache, err, !all, now);
    return st == PG_CONN_LOST ? st : PG_OK;
}

/* Keeps redis_ok honest while there is no work: one PING. */
static void
ping(outbox_t *o, int64_t now)
{
    char *err = NULL, *rerr = NULL;
    cache_status_t st;

    if (!cache_connected(o->cache))
        return;
    cache_append_ping(o->cache, 0);
    st = cache_flush(o->cache, NULL, &rerr, 1, &err);
    if (st == CACHE_OK) {
        cache_succeeded(o->cache, now);
    } else {
        char *msg = st == CACHE_CONN_ERROR ? xasprintf("PING: %s", err)
                                           : xasprintf("PING refused: %s", rerr ? rerr : "?");
        cache_failed(o->cache, msg, false, now); /* no PING: Redis is not usable */
        free(msg);
    }
    free(err);
    free(rerr);
}

/* Redis is down and may be tried now, but the connect failed: the rows that are due get an
 * attempt recorded (so a stuck outbox says why), then stay pending. */
static pg_status_t
fail_due_rows(outbox_t *o, pg_t *pg, bool *table)
{
    row_t *rows = NULL;
    size_t n = 0;
    pg_status_t st = pg_exec(pg, "BEGIN");

    if (st != PG_OK)
        return st;
    st = claim(o, pg, false, &rows, &n);
    if (st != PG_OK) {
        bool missing = strcmp(pg_sqlstate(pg), "42P01") == 0;
        rows_free(rows, n);
        rollback(pg);
        if (missing)
            *table = false;
        return missing ? PG_OK : st;
    }
    rollback(pg);
    if (n > 0) {
        int64_t *ids = xcalloc(n, sizeof(*ids));
        char *err = xasprintf("redis: %s", cache_error(o->cache));
        for (size_t i = 0; i < n; i++)
            ids[i] = rows[i].id;
        st = record_attempts(pg, ids, n, err);
        o->acc.failed += n;
        free(err);
        free(ids);
    }
    rows_free(rows, n);
    return st == PG_CONN_LOST ? st : PG_OK;
}

/* ---- one batch -------------------------------------------------------------------- */

/* The purge rows: SCAN + UNLINK, within the rate and OUTBOX_PURGE_MS. */
static cache_status_t
purge_rows(outbox_t *o, row_t *rows, size_t n, bool *rate_limited, bool *sliced, char **err)
{
    int64_t deadline = now_mono_ms() + OUTBOX_PURGE_MS;

    *rate_limited = false;
    *sliced = false;
    for (size_t i = 0; i < n; i++) {
        row_t *r = &rows[i];
        const purge_pos_t *p;

        if (r->kind != ROW_PURGE || r->err)
            continue;
        if ((p = pos_find(o, r->id)) != NULL) {
            r->pattern = p->pattern;
            r->started = p->started;
            memcpy(r->cursor, p->cursor, sizeof(r->cursor));
        }
        while (r->pattern < r->n_keys && !*rate_limited && !*sliced) {
            int64_t t = now_mono_ms();
            long long matched = 0, removed = 0;
            cache_status_t st;

            if (!scan_allowed(o, t)) {
                *rate_limited = true;
                break;
            }
            if (t >= deadline) {
                *sliced = true;
                break;
            }
            st = cache_scan_unlink(o->cache, r->cursor, r->keys[r->pattern], r->lens[r->pattern],
                                   &matched, &removed, err);
            scan_taken(o, t);
            r->scans++;
            r->n += removed;
            if (st != CACHE_OK) {
                r->err = xasprintf("redis: %s", *err);
                return st;
            }
            if (strcmp(r->cursor, "0") == 0) { /* this pattern is done */
                r->pattern++;
                r->started = false;
            } else {
                r->started = true;
            }
        }
        if (r->pattern >= r->n_keys) {
            r->update = true;
            r->confirm = true;
        } else if (r->scans > 0) {
            r->update = true; /* progress: removed so far; the rest in a later batch */
        }
    }
    return CACHE_OK;
}

/* The purge row whose SCAN or UNLINK failed (the last one with an error). */
static int64_t
failed_purge(const row_t *rows, size_t n)
{
    int64_t id = 0;

    for (size_t i = 0; i < n; i++)
        if (rows[i].kind == ROW_PURGE && rows[i].err)
            id = rows[i].id;
    return id;
}

/* The batch's UPDATE: first passes, second passes, confirmations, purge progress. */
static pg_status_t
record_batch(outbox_t *o, pg_t *pg, const row_t *rows, size_t n, size_t *n_updated)
{
    sb_t ids, ns, firsts, confirms;
    const char *params[5];
    PGresult *res = NULL;
    pg_status_t st;
    size_t k = 0;

    sb_init(&ids);
    sb_init(&ns);
    sb_init(&firsts);
    sb_init(&confirms);
    for (size_t i = 0; i < n; i++) {
        const row_t *r = &rows[i];
        if (!r->update)
            continue;
        sb_printf(&ids, "%s%lld", k ? "," : "{", (long long)r->id);
        sb_printf(&ns, "%s%lld", k ? "," : "{", r->n);
        sb_printf(&firsts, "%s%s", k ? "," : "{", r->first ? "t" : "f");
        sb_printf(&confirms, "%s%s", k ? "," : "{", r->confirm ? "t" : "f");
        k++;
    }
    *n_updated = k;
    if (k == 0) {
        sb_free(&ids);
        sb_free(&ns);
        sb_free(&firsts);
        sb_free(&confirms);
        return PG_OK;
    }
    sb_putc(&ids, '}');
    sb_putc(&ns, '}');
    sb_putc(&firsts, '}');
    sb_putc(&confirms, '}');
    params[0] = ids.data;
    params[1] = ns.data;
    params[2] = firsts.data;
    params[3] = confirms.data;
    params[4] = o->node;
    st = pg_run(pg, record_sql, 5, params, &res);
    if (st == PG_OK) {
        if (strcmp(PQcmdTuples(res), "") != 0 && (size_t)atoll(PQcmdTuples(res)) != k)
            log_warn("outbox: the batch's UPDATE changed %s rows, not %zu", PQcmdTuples(res), k);
        PQclear(res);
    }
    sb_free(&ids);
    sb_free(&ns);
    sb_free(&firsts);
    sb_free(&confirms);
    return st;
}

pg_status_t
outbox_run(outbox_t *o, pg_t *pg, bool *table, int64_t now, bool tick, int64_t *next_at)
{
    row_t *rows = NULL;
    size_t n = 0, n_updated = 0;
    long long *sums = NULL;
    char **errs = NULL, *err = NULL;
    bool rate_limited = false, sliced = false;
    pg_status_t st;
    cache_status_t cst = CACHE_OK;

    *next_at = INT64_MAX;
    log_flush(o, now, false);

    /* Redis first: down and inside its backoff, nothing to do */
    if (!cache_connected(o->cache)) {
        if (now < cache_retry_at(o->cache)) {
            *next_at = cache_retry_at(o->cache);
            return PG_OK;
        }
        if (!cache_connect(o->cache, now)) {
            st = pg && *table ? fail_due_rows(o, pg, table) : PG_OK;
            *next_at = cache_retry_at(o->cache);
            return st;
        }
    }
    if (pg == NULL || !*table) {
        if (tick)
            ping(o, now);
        if (!cache_connected(o->cache))
            *next_at = cache_retry_at(o->cache);
        return PG_OK;
    }

    if ((st = pg_exec(pg, "BEGIN")) != PG_OK)
        return st;
    st = claim(o, pg, true, &rows, &n);
    if (st != PG_OK) {
        bool missing = strcmp(pg_sqlstate(pg), "42P01") == 0;
        log_debug("outbox: claim: %s", pg_errmsg(pg));
        rows_free(rows, n);
        discard_queued(o);
        rollback(pg);
        if (missing) /* gone since the last report: quietly nothing */
            *table = false;
        return missing ? PG_OK : st;
    }
    if (n == 0) {
        rows_free(rows, n);
        if ((st = pg_exec(pg, "COMMIT")) != PG_OK)
            return st;
        if (tick)
            ping(o, now);
        if (!cache_connected(o->cache))
            *next_at = cache_retry_at(o->cache);
        return PG_OK;
    }

    /* keys and bumps: their commands are queued (and mostly sent) by the claim */
    sums = xcalloc(n, sizeof(*sums));
    errs = xcalloc(n, sizeof(*errs));
    if (cache_queued(o->cache) > 0)
        cst = cache_flush(o->cache, sums, errs, n, &err);
    if (cst == CACHE_REPLY_ERROR) {
        for (size_t i = 0; i < n; i++)
            if (errs[i]) {
                rows[i].err = xasprintf("redis: %s", errs[i]);
                if (err == NULL)
                    err = xasprintf("%s (outbox row %lld)", errs[i], (long long)rows[i].id);
                log_debug("outbox: row %lld: %s", (long long)rows[i].id, rows[i].err);
            }
        if (err == NULL)
            err = xstrdup("an error reply");
    }
    for (size_t i = 0; i < n; i++)
        free(errs[i]);
    free(errs);
    if (cst != CACHE_OK) {
        st = redis_failure(o, pg, rows, n, cst == CACHE_CONN_ERROR, err, now);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        row_t *r = &rows[i];
        if (r->err)
            continue;
        if (r->kind == ROW_KEY) {
            r->n = sums[i];
            r->update = true;
            r->first = !r->second;
            r->confirm = r->second;
        } else if (r->kind == ROW_BUMP) {
            r->n = 0; /* nothing removed: the namespace moved on */
            r->update = true;
            r->confirm = true;
            o->acc.incr += (uint64_t)sums[i];
        }
    }

    /* purges: SCAN by SCAN */
    cst = purge_rows(o, rows, n, &rate_limited, &sliced, &err);
    if (cst != CACHE_OK) {
        char *msg = cst == CACHE_REPLY_ERROR
                        ? xasprintf("%s (outbox row %lld)", err, (long long)failed_purge(rows, n))
                        : xstrdup(err);
        st = redis_failure(o, pg, rows, n, cst == CACHE_CONN_ERROR, msg, now);
        free(msg);
        goto out;
    }

    /* record it, in the claim's transaction */
    st = record_batch(o, pg, rows, n, &n_updated);
    if (st == PG_OK)
        st = pg_exec(pg, "COMMIT");
    if (st != PG_OK) {
        log_warn("outbox: recording the batch failed (its Redis work is done again later): %s",
                 pg_errmsg(pg));
        rollback(pg);
        goto out;
    }
    cache_succeeded(o->cache, now_mono_ms());

    /* committed: the counters, the purge positions, the rows that failed on their own */
    {
        int64_t *bad = xcalloc(n, sizeof(*bad));
        size_t n_bad = 0;
        bool progress = false, purge_progress = false;

        o->acc.batches++;
        for (size_t i = 0; i < n; i++) {
            const row_t *r = &rows[i];
            if (r->err) {
                bad[n_bad++] = r->id;
                continue;
            }
            if (!r->update)
                continue;
            if (r->kind == ROW_PURGE && !r->confirm)
                purge_progress = true;
            else
                progress = true;
            if (r->first || r->confirm)
                o->acc.rows++;
            o->acc.removed += r->n > 0 ? (uint64_t)r->n : 0;
            o->acc.scans += (uint64_t)r->scans;
            if (r->first)
                o->acc.first++;
            if (r->confirm) {
                o->acc.confirmed++;
                o->confirmed++;
            }
            if (r->kind == ROW_PURGE) {
                if (r->confirm) {
                    pos_forget(o, r->id);
                } else {
                    pos_keep(o, r);
                    o->acc.in_progress++;
                }
            }
        }
        for (size_t i = 0; i < n_bad; i++) {
            const row_t *r = NULL;
            for (size_t j = 0; j < n && r == NULL; j++)
                if (rows[j].id == bad[i])
                    r = &rows[j];
            if (record_attempts(pg, &bad[i], 1, r->err) == PG_CONN_LOST) {
                st = PG_CONN_LOST;
                break;
            }
            o->acc.failed++;
        }
        free(bad);
        if (progress || sliced || (purge_progress && !rate_limited))
            *next_at = now_mono_ms(); /* found work: again at once */
        else if (rate_limited)
            *next_at = scan_next_at(o); /* a purge waits for its rate */
    }
    log_flush(o, now_mono_ms(), false);

out:
    if (!cache_connected(o->cache))
        *next_at = cache_retry_at(o->cache);
    free(err);
    free(sums);
    rows_free(rows, n);
    return st;
}

void
outbox_report(const outbox_t *o, Convoy__Wire__Report *r)
{
    free(r->redis_error);
    r->redis_ok = cache_ok(o->cache);
    r->redis_error = xstrdup(cache_error(o->cache));
    r->cache_confirmed = o->confirmed;
}
