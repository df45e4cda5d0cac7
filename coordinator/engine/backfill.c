/* backfill.c: keyset-paged backfill batches, each with its checkpoint in the same transaction. */
#include "convoy/backfill.h"

#include "convoy/chunk.h"
#include "convoy/log.h"
#include "convoy/retry.h"
#include "convoy/util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    bf_ctx_t *c;
    size_t k;      /* key columns */
    char *keys;    /* "(a, b)" */
    char *order;   /* "a, b" */
    char *desc;    /* "a DESC, b DESC" */
    char *as_text; /* "a::text, b::text" */
    char **lo;     /* current lower bound (exclusive), NULL before the first batch */
    char **up;     /* upper bound (inclusive) */
    int64_t rows_total;
    /* Dense single-column integer key: batches are key ranges (lo, lo + size], which
     * spares the query that finds each batch's last key. */
    bool int_path;
    int64_t int_min;
} bf_t;

static char *
param_tuple(const bf_t *b, int first)
{
    sb_t sb;

    sb_init(&sb);
    sb_putc(&sb, '(');
    for (size_t i = 0; i < b->k; i++)
        sb_printf(&sb, "%s$%d::%s", i ? ", " : "", first + (int)i, b->c->step->key_types[i]);
    sb_putc(&sb, ')');
    return sb_steal(&sb);
}

static void
free_keys(char **v, size_t k)
{
    for (size_t i = 0; v && i < k; i++)
        free(v[i]);
    free(v);
}

static char **
keys_from_row(PGresult *r, int row, int first_col, size_t k)
{
    char **v = xcalloc(k, sizeof(char *));
    for (size_t i = 0; i < k; i++)
        v[i] = xstrdup(PQgetvalue(r, row, first_col + (int)i));
    return v;
}

static void
sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static bool
fail(bf_t *b, const char *what)
{
    free(b->c->error);
    b->c->error = xasprintf("%s: %s", what, pg_errmsg(b->c->pg));
    return false;
}

/* Loads the checkpoint, or creates it (upper bound = largest key now). */
static bool
load_or_init(bf_t *b, int64_t *batch_size, bool *empty)
{
    bf_ctx_t *c = b->c;
    char stepno[16];
    const char *p2[2] = {c->migration, stepno};
    PGresult *r = NULL;
    sb_t cols;
    char *sql;
    bool ok = false;

    *empty = false;
    snprintf(stepno, sizeof(stepno), "%d", c->step_no);
    sb_init(&cols);
    for (size_t i = 0; i < b->k; i++)
        sb_printf(&cols, "last_key[%zu], ", i + 1);
    for (size_t i = 0; i < b->k; i++)
        sb_printf(&cols, "upper_key[%zu], ", i + 1);
    sql = xasprintf("SELECT %s rows_done, rows_updated, coalesce(rows_total, -1), "
                    "coalesce(batch_size, 0), last_key IS NULL, upper_key IS NULL "
                    "FROM convoy.backfill WHERE migration = $1 AND step = $2::int",
                    cols.data);
    sb_free(&cols);
    if (pg_run(c->pg, sql, 2, p2, &r) != PG_OK) {
        fail(b, "reading the backfill checkpoint");
        goto done;
    }
    if (PQntuples(r) == 1) {
        int base = (int)(2 * b->k);
        bool no_last = PQgetvalue(r, 0, base + 4)[0] == 't';
        bool no_upper = PQgetvalue(r, 0, base + 5)[0] == 't';
        c->rows_done = strtoll(PQgetvalue(r, 0, base), NULL, 10);
        c->rows_updated = strtoll(PQgetvalue(r, 0, base + 1), NULL, 10);
        b->rows_total = strtoll(PQgetvalue(r, 0, base + 2), NULL, 10);
        *batch_size = strtoll(PQgetvalue(r, 0, base + 3), NULL, 10);
        b->lo = no_last ? NULL : keys_from_row(r, 0, 0, b->k);
        if (no_upper) {
            *empty = true;
        } else {
            b->up = keys_from_row(r, 0, (int)b->k, b->k);
        }
        ok = true;
        goto done;
    }
    PQclear(r);
    r = NULL;

    /* First start: fix the upper bound and count the rows to cover. */
    free(sql);
    sql =
        xasprintf("SELECT %s FROM %s ORDER BY %s LIMIT 1", b->as_text, c->step->table_sql, b->desc);
    if (pg_run(c->pg, sql, 0, NULL, &r) != PG_OK) {
        fail(b, "finding the largest key");
        goto done;
    }
    if (PQntuples(r) == 0) {
        *empty = true;
    } else {
        b->up = keys_from_row(r, 0, 0, b->k);
    }
    PQclear(r);
    r = NULL;
    if (!*empty) {
        char *est;
        const char *tp[1] = {c->step->table_sql};
        est = pg_value(c->pg,
                       "SELECT CASE WHEN reltuples >= 0 THEN reltuples::bigint END FROM pg_class "
                       "WHERE oid = to_regclass($1)",
                       1, tp);
        b->rows_total = est ? strtoll(est, NULL, 10) : -1;
        free(est);
        /* never analysed: count (the estimate only drives progress and ETA) */
        if (b->rows_total < 0) {
            char *cnt;
            free(sql);
            sql = xasprintf("SELECT count(*) FROM %s", c->step->table_sql);
            cnt = pg_value(c->pg, sql, 0, NULL);
            if (cnt)
                b->rows_total = strtoll(cnt, NULL, 10);
            free(cnt);
        }
    }
    {
        sb_t arr;
        char total[32];
        const char **p = xcalloc(b->k + 3, sizeof(char *));
        sb_init(&arr);
        if (*empty) {
            sb_puts(&arr, "NULL");
        } else {
            sb_puts(&arr, "ARRAY[");
            for (size_t i = 0; i < b->k; i++)
                sb_printf(&arr, "%s$%zu", i ? ", " : "", i + 4);
            sb_puts(&arr, "]::text[]");
        }
        snprintf(total, sizeof(total), "%lld", (long long)(*empty ? 0 : b->rows_total));
        p[0] = c->migration;
        p[1] = stepno;
        p[2] = total;
        for (size_t i = 0; !*empty && i < b->k; i++)
            p[3 + i] = b->up[i];
        free(sql);
        sql = xasprintf("INSERT INTO convoy.backfill (migration, step, upper_key, rows_total) "
                        "VALUES ($1, $2::int, %s, $3::bigint) ON CONFLICT DO NOTHING",
                        arr.data);
        if (pg_run(c->pg, sql, *empty ? 3 : (int)(3 + b->k), p, NULL) != PG_OK)
            fail(b, "creating the backfill checkpoint");
        else
            ok = true;
        sb_free(&arr);
        free(p);
    }
done:
    PQclear(r);
    free(sql);
    return ok;
}

/* Uses key ranges when the key is one integer column and at least half the key space is
 * populated; either way the checkpoint holds the last key covered, so a resume may switch. */
static void
choose_int_path(bf_t *b)
{
    const char *t;
    char *sql, *min;
    int64_t up_v;

    if (b->k != 1 || b->rows_total <= 0)
        return;
    t = b->c->step->key_types[0];
    if (strcmp(t, "bigint") != 0 && strcmp(t, "integer") != 0 && strcmp(t, "smallint") != 0)
        return;
    sql = xasprintf("SELECT min(%s)::text FROM %s", b->c->step->key_cols[0], b->c->step->table_sql);
    min = pg_value(b->c->pg, sql, 0, NULL);
    free(sql);
    if (min == NULL)
        return;
    b->int_min = strtoll(min, NULL, 10);
    free(min);
    up_v = strtoll(b->up[0], NULL, 10);
    if (b->int_min <= INT64_MIN + 1 || up_v < b->int_min)
        return;
    /* density: rows per key value across [min, up] */
    b->int_path = (double)b->rows_total * 2.0 >= (double)up_v - (double)b->int_min + 1.0;
}

/*
 * The batch predicate "(k) > (lo) AND (k) <= (hi)", without the lower bound before the
 * first batch, with its parameters appended to p at *np.
 */
static char *
key_range(const bf_t *b, char **hi, const char **p, int *np)
{
    sb_t sb;
    char *t;

    sb_init(&sb);
    if (b->lo) {
        t = param_tuple(b, *np + 1);
        sb_printf(&sb, "%s > %s AND ", b->keys, t);
        free(t);
        for (size_t i = 0; i < b->k; i++)
            p[(*np)++] = b->lo[i];
    }
    t = param_tuple(b, *np + 1);
    sb_printf(&sb, "%s <= %s", b->keys, t);
    free(t);
    for (size_t i = 0; i < b->k; i++)
        p[(*np)++] = hi[i];
    return sb_steal(&sb);
}

typedef enum { BATCH_OK, BATCH_RETRY, BATCH_LEASE_LOST, BATCH_FAIL } batch_t;

/* One transaction: find the batch's last key, update, checkpoint, renew the lease. */
static batch_t
run_batch(bf_t *b,
          int64_t size,
          int64_t *covered,
          int64_t *updated,
          bool *finished,
          bool *abort_requested)
{
    bf_ctx_t *c = b->c;
    size_t k = b->k;
    const char **p = xcalloc(2 * k + 8, sizeof(char *));
    char *sql = NULL, *set_sql = NULL, *where = NULL;
    char **hi = NULL;
    PGresult *r = NULL;
    batch_t res = BATCH_FAIL;
    pg_status_t st;
    int np = 0;

    *finished = false;
    *abort_requested = false;
    set_sql =
        xasprintf("BEGIN; SET LOCAL convoy.backfill = 'on'; SET LOCAL lock_timeout = '%lldms'; "
                  "SET LOCAL statement_timeout = '%lldms'",
                  (long long)c->lock_timeout_ms,
                  (long long)(c->target_ms * 20 > 10000 ? c->target_ms * 20 : 10000));
    if ((st = pg_exec(c->pg, set_sql)) != PG_OK)
        goto failed;

    /* (a) the batch's last key: `size` keys (int path) or rows after lo, capped at up */
    if (b->int_path) {
        int64_t lo_v = b->lo ? strtoll(b->lo[0], NULL, 10) : b->int_min - 1;
        int64_t up_v = strtoll(b->up[0], NULL, 10);
        int64_t hi_v = up_v - lo_v <= size ? up_v : lo_v + size;
        hi = xcalloc(1, sizeof(char *));
        hi[0] = xasprintf("%lld", (long long)hi_v);
        *finished = hi_v >= up_v;
        *covered = -2; /* the rows updated, known after (b) */
    } else {
        char off[32];
        np = 0;
        where = key_range(b, b->up, p, &np);
        snprintf(off, sizeof(off), "%lld", (long long)(size - 1));
        p[np++] = off;
        sql = xasprintf("SELECT %s FROM %s WHERE %s ORDER BY %s OFFSET $%d LIMIT 1", b->as_text,
                        c->step->table_sql, where, b->order, np);
        st = pg_run(c->pg, sql, np, p, &r);
        if (st != PG_OK)
            goto failed;
        if (PQntuples(r) == 1) {
            hi = keys_from_row(r, 0, 0, k);
            *covered = size;
        } else {
            hi = xcalloc(k, sizeof(char *));
            for (size_t i = 0; i < k; i++)
                hi[i] = xstrdup(b->up[i]);
            *finished = true;
            *covered = -1; /* the tail: counted after (b) */
        }
        PQclear(r);
        r = NULL;
    }

    /* (b) the update itself, only rows still NULL */
    free(sql);
    free(where);
    np = 0;
    where = key_range(b, hi, p, &np);
    sql = xasprintf("UPDATE %s SET %s = %s WHERE %s AND %s IS NULL", c->step->table_sql,
                    c->step->column_sql, c->step->expr_sql, where, c->step->column_sql);
    if ((st = pg_run(c->pg, sql, np, p, &r)) != PG_OK)
        goto failed;
    *updated = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    r = NULL;
    if (*covered == -2) {
        *covered = *updated;
    } else if (*covered == -1) {
        /* the tail batch ends at up: count what it covered, same range as (b) */
        char *cnt;
        free(sql);
        sql = xasprintf("SELECT count(*) FROM %s WHERE %s", c->step->table_sql, where);
        cnt = pg_value(c->pg, sql, np, p);
        if (cnt == NULL) {
            st = pg_classify(pg_sqlstate(c->pg));
            goto failed;
        }
        *covered = strtoll(cnt, NULL, 10);
        free(cnt);
    }

    /* (c) checkpoint + lease renewal + abort check, in the same transaction */
    {
        char stepno[16], cov[32], upd[32], bsz[32], tok[32];
        sb_t arr;
        sb_init(&arr);
        snprintf(stepno, sizeof(stepno), "%d", c->step_no);
        snprintf(cov, sizeof(cov), "%lld", (long long)*covered);
        snprintf(upd, sizeof(upd), "%lld", (long long)*updated);
        snprintf(bsz, sizeof(bsz), "%lld", (long long)size);
        snprintf(tok, sizeof(tok), "%lld", (long long)c->lease->token);
        np = 0;
        p[np++] = c->migration;
        p[np++] = stepno;
        p[np++] = cov;
        p[np++] = upd;
        p[np++] = bsz;
        p[np++] = tok;
        sb_puts(&arr, "ARRAY[");
        for (size_t i = 0; i < k; i++) {
            sb_printf(&arr, "%s$%d", i ? ", " : "", np + 1);
            p[np++] = hi[i];
        }
        sb_puts(&arr, "]::text[]");
        free(sql);
        sql = xasprintf(
            "WITH cp AS (UPDATE convoy.backfill SET last_key = %s, rows_done = rows_done + "
            "$3::bigint, rows_updated = rows_updated + $4::bigint, batches = batches + 1, "
            "batch_size = $5::int, updated_at = now() WHERE migration = $1 AND step = $2::int "
            "RETURNING 1), "
            "l AS (" LEASE_RENEW_SQL(
                1, 6) " RETURNING 1) "
                      "SELECT (SELECT count(*) FROM cp), (SELECT count(*) FROM l), "
                      "(SELECT status FROM convoy.migrations WHERE name = $1)",
            arr.data);
        sb_free(&arr);
        if ((st = pg_run(c->pg, sql, np, p, &r)) != PG_OK)
            goto failed;
        if (strcmp(PQgetvalue(r, 0, 1), "1") != 0) {
            pg_exec(c->pg, "ROLLBACK");
            res = BATCH_LEASE_LOST;
            goto done;
        }
        if (strcmp(PQgetvalue(r, 0, 0), "1") != 0) {
            pg_exec(c->pg, "ROLLBACK");
            free(c->error);
            c->error = xstrdup("the backfill checkpoint row disappeared");
            res = BATCH_FAIL;
            goto done;
        }
        *abort_requested = strcmp(PQgetvalue(r, 0, 2), "aborting") == 0;
        PQclear(r);
        r = NULL;
    }
    if ((st = pg_exec(c->pg, "COMMIT")) != PG_OK)
        goto failed;
    free_keys(b->lo, k);
    b->lo = hi;
    hi = NULL;
    res = BATCH_OK;
    goto done;

failed : {
    char *msg = xstrdup(pg_errmsg(c->pg));
    pg_exec(c->pg, "ROLLBACK");
    if (st == PG_LOCK_TIMEOUT || st == PG_CANCELED || strcmp(pg_sqlstate(c->pg), "40P01") == 0 ||
        strcmp(pg_sqlstate(c->pg), "40001") == 0) {
        res = BATCH_RETRY;
    } else {
        res = BATCH_FAIL;
    }
    free(c->error);
    c->error = msg;
}
done:
    PQclear(r);
    free_keys(hi, k);
    free(sql);
    free(set_sql);
    free(where);
    free(p);
    return res;
}

bf_result_t
backfill_run(bf_ctx_t *c)
{
    bf_t b = {0};
    chunk_ctl_t ctl;
    retry_policy_t rp;
    int64_t size = 0, started = now_mono_ms(), run_rows = 0;
    int failures = 0;
    int64_t fail_since = 0;
    bool empty = false;
    bf_result_t res = BF_ERROR;
    sb_t keys, order, desc, as_text;

    b.c = c;
    b.k = c->step->n_keys;
    sb_init(&keys);
    sb_init(&order);
    sb_init(&desc);
    sb_init(&as_text);
    sb_putc(&keys, '(');
    for (size_t i = 0; i < b.k; i++) {
        const char *kc = c->step->key_cols[i];
        sb_printf(&keys, "%s%s", i ? ", " : "", kc);
        sb_printf(&order, "%s%s", i ? ", " : "", kc);
        sb_printf(&desc, "%s%s DESC", i ? ", " : "", kc);
        sb_printf(&as_text, "%s%s::text AS convoy_k%zu", i ? ", " : "", kc, i + 1);
    }
    sb_putc(&keys, ')');
    b.keys = sb_steal(&keys);
    b.order = sb_steal(&order);
    b.desc = sb_steal(&desc);
    b.as_text = sb_steal(&as_text);
    retry_policy_default(&rp);

    if (!load_or_init(&b, &size, &empty))
        goto done;
    if (empty) {
        res = BF_DONE;
        goto done;
    }
    choose_int_path(&b);
    if (b.lo)
        progress_line(c->progress, "    resuming backfill from checkpoint: %lld of %lld rows done",
                      (long long)c->rows_done, (long long)b.rows_total);
    chunk_init(&ctl, c->target_ms, size > 0 ? size : CHUNK_INITIAL_ROWS);

    for (;;) {
        int64_t covered = 0, updated = 0, t0, elapsed;
        bool finished = false, abort_req = false;
        batch_t br;

        if (c->stop_flag && *c->stop_flag) {
            res = BF_INTERRUPTED;
            goto done;
        }
        t0 = now_mono_ms();
        br = run_batch(&b, ctl.size, &covered, &updated, &finished, &abort_req);
        elapsed = now_mono_ms() - t0;
        if (br == BATCH_LEASE_LOST) {
            res = BF_LEASE_LOST;
            goto done;
        }
        if (br == BATCH_FAIL) {
            res = BF_ERROR;
            goto done;
        }
        if (br == BATCH_RETRY) {
            int64_t delay;
            if (failures == 0)
                fail_since = now_mono_ms();
            failures++;
            chunk_observe(&ctl, 0, (int64_t)(c->target_ms * CHUNK_OUTLIER_FACTOR) + 1);
            if (!retry_allowed(&rp, failures, now_mono_ms() - fail_since)) {
                res = BF_LOCKED;
                goto done;
            }
            delay = retry_delay_ms(&rp, failures, randombytes_random());
            progress_status(c->progress,
                            "    waiting: batch hit %s (%s); retry %d in %lld ms with %lld rows",
                            "a lock or statement timeout", c->error, failures, (long long)delay,
                            (long long)ctl.size);
            sleep_ms(delay);
            continue;
        }
        failures = 0;
        c->rows_done += covered;
        c->rows_updated += updated;
        run_rows += covered;
        {
            int64_t wall = now_mono_ms() - started;
            double rate = wall > 0 ? (double)run_rows * 1000.0 / (double)wall : 0;
            int64_t remaining = b.rows_total > c->rows_done ? b.rows_total - c->rows_done : 0;
            char eta[32];
            format_duration(rate > 0 ? (int64_t)((double)remaining / rate * 1000.0) : -1, eta,
                            sizeof(eta));
            progress_status(c->progress,
                            "    backfill %lld/%lld rows (%.1f%%)  %.0f rows/s  ETA %s  batch %lld "
                            "rows in %lld ms",
                            (long long)c->rows_done, (long long)b.rows_total,
                            b.rows_total > 0 ? 100.0 * (double)c->rows_done / (double)b.rows_total
                                             : 100.0,
                            rate, eta, (long long)ctl.size, (long long)elapsed);
        }
        chunk_observe(&ctl, covered, elapsed);
        if (finished) {
            res = BF_DONE;
            goto done;
        }
        if (abort_req) {
            res = BF_ABORTED;
            goto done;
        }
    }
done:
    progress_finish(c->progress);
    free_keys(b.lo, b.k);
    free_keys(b.up, b.k);
    free(b.keys);
    free(b.order);
    free(b.desc);
    free(b.as_text);
    return res;
}
