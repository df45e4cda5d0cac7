/*
 * backfill.c: the batched passes; each batch updates, checkpoints and checks the fencing
 * token in one transaction. Range-paged passes (a dense integer key, heap blocks) run in
 * lanes: one or more sessions side by side, each on its own range.
 */
#include "convoy/backfill.h"

#include "convoy/chunk.h"
#include "convoy/hold.h"
#include "convoy/log.h"
#include "convoy/retry.h"
#include "convoy/state.h"
#include "convoy/util.h"

/*
 * The keyset path's outbox CTE ($M: migration, $S: step), after its `u` CTE. Each row's
 * ARRAY of keys (one per key template) is aggregated as it is: a two-dimensional text[] of
 * rows x templates, which the cache agent reads flattened. An unnest into one array_agg
 * cost 20-25 % more of the batch (by hand, 200,000 rows: 578-605 ms against 476-488).
 */
#define OUTBOX_KEYS "array_agg(u.convoy_keys) FROM u HAVING count(*) > 0"
#define OUTBOX_CTE(M, S)                                                                           \
    "i AS (INSERT INTO convoy.invalidations (migration, step, kind, keys) SELECT $" #M ", $" #S    \
    "::int, 'key', " OUTBOX_KEYS "), "

#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Shows the driver's progress in status (liveness itself is the lease's advisory lock). */
#define LEASE_SEEN_SQL                                                                             \
    "lr AS (UPDATE convoy.lease SET renewed_at = now() WHERE migration = $1 AND token = "          \
    "$3::bigint) "

/* A lane's state: between batches, or which statement of its batch transaction is out. */
typedef enum {
    LANE_IDLE,     /* ready for its next batch */
    LANE_BEGIN,    /* BEGIN sent */
    LANE_WRITE,    /* the batch's write sent */
    LANE_CP,       /* the checkpoint sent */
    LANE_COMMIT,   /* COMMIT sent */
    LANE_ROLLBACK, /* ROLLBACK sent: the batch failed with `failed` */
    LANE_WAIT,     /* a retry's delay, until wake_at */
    LANE_DONE,     /* its range is covered */
} lane_phase_t;

/*
 * One session filling one range of a range-paged pass: keys (pos, end] on the integer path,
 * heap blocks [pos, end) on the block path. Its position is element `idx` of the
 * checkpoint's last_key; a pass has one lane unless -- convoy:backfill-workers asks for more.
 */
typedef struct {
    pg_t *pg; /* the step's session for lane 1, its own for the others */
    bool own_pg;
    int idx;
    int64_t start, pos, end;
    chunk_ctl_t ctl;
    lane_phase_t phase;
    int64_t hi, covered, updated, size, t0, wake_at, fail_since;
    int failures;
    pg_status_t failed;
    char *error; /* the failed statement's message and SQLSTATE, until the batch ends */
    char sqlstate[6];
    bool prepared_write, prepared_cp, abort_req, paused;
    bool withdrawn; /* rolled back before its write: the pass is ending */
} lane_t;

typedef struct {
    bf_ctx_t *c;
    size_t k;
    char *keys;  /* "(a, b)" */
    char *order; /* "a, b" */
    char **lo;   /* last key covered (exclusive bound), NULL before the first batch */
    char **up;   /* upper bound (inclusive), fixed when the pass starts */
    char **edge; /* catch-up: the fill pass's upper bound (existing rows), or NULL */
    int64_t rows_total;
    bool int_path; /* dense single integer key: batches are key ranges */
    int64_t int_min;
    /* catch-up pass: pages by heap block ranges (ctid), which read the table in order */
    bool ctid_path;
    int64_t blk_lo, blk_up; /* next block to read, blocks when the pass started */
    double rows_per_block;
    char name_first[32], name_next[32], name_write[32], name_cp[32];
    bool seen_paused; /* the last batch saw the migration paused */
    bool prepared_first, prepared_next, prepared_write, prepared_cp;
    lane_t lanes[MIGRATION_MAX_BACKFILL_WORKERS];
    int n_lanes;
    int stored_lanes; /* how many ranges the checkpoint holds (0: none yet) */
} bf_t;

static char **
keys_from_row(PGresult *r, int row, int first_col, size_t k)
{
    char **v = xcalloc(k, sizeof(char *));
    for (size_t i = 0; i < k; i++)
        v[i] = xstrdup(PQgetvalue(r, row, first_col + (int)i));
    return v;
}

/* "($n::t1, $n+1::t2)" */
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
set_error(bf_t *b, const char *what)
{
    bf_ctx_t *c = b->c;
    free(c->error);
    c->error = xasprintf("%s: %s", what, pg_errmsg(c->pg));
    snprintf(c->sqlstate, sizeof(c->sqlstate), "%s", pg_sqlstate(c->pg));
}

/* Reads a key array column set (text[]) into k strings; NULL when the array is NULL. */
static char **
array_keys(PGresult *r, int first_col, size_t k, bool is_null)
{
    return is_null ? NULL : keys_from_row(r, 0, first_col, k);
}

/*
 * The catch-up pass reads every row: in heap block order it is a sequential read, while key
 * ranges jump around a table the fill pass has just doubled. Its checkpoint holds the next
 * block; the blocks it covers are the table's when the pass starts (rows written later are
 * kept right by the trigger, and a row the pass rewrites is right wherever it moves).
 */
static bool
init_blocks(bf_t *b, PGresult *cp, bool *empty)
{
    bf_ctx_t *c = b->c;
    const char *tp[1] = {c->step->table_sql};
    char stepno[16];
    PGresult *r = NULL;
    bool ok = false;

    b->ctid_path = true;
    if (PQntuples(cp) == 1) {
        int base = (int)(2 * b->k);
        /* last_key[1] / upper_key[1] hold block numbers on this path */
        b->blk_lo = PQgetisnull(cp, 0, 0) ? 0 : strtoll(PQgetvalue(cp, 0, 0), NULL, 10);
        b->blk_up =
            PQgetisnull(cp, 0, (int)b->k) ? 0 : strtoll(PQgetvalue(cp, 0, (int)b->k), NULL, 10);
        c->rows_done = strtoll(PQgetvalue(cp, 0, base), NULL, 10);
        c->rows_updated = strtoll(PQgetvalue(cp, 0, base + 1), NULL, 10);
        b->rows_total = strtoll(PQgetvalue(cp, 0, base + 2), NULL, 10);
    } else {
        if (pg_run(c->pg,
                   "SELECT pg_relation_size(to_regclass($1)) / current_setting('block_size')::int, "
                   "(SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = "
                   "to_regclass($1))",
                   1, tp, &r) != PG_OK) {
            set_error(b, "sizing the table");
            return false;
        }
        b->blk_lo = 0;
        b->blk_up = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        b->rows_total = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
        PQclear(r);
        r = NULL;
        {
            char up[32], total[32];
            const char *ip[4] = {c->migration, stepno, up, total};
            snprintf(stepno, sizeof(stepno), "%d", c->step_no);
            snprintf(up, sizeof(up), "%lld", (long long)b->blk_up);
            snprintf(total, sizeof(total), "%lld", (long long)b->rows_total);
            if (pg_run(c->pg,
                       "INSERT INTO convoy.backfill (migration, step, last_key, upper_key, "
                       "rows_total) VALUES ($1, $2::int, ARRAY['0'], ARRAY[$3], $4::bigint) "
                       "ON CONFLICT DO NOTHING",
                       4, ip, NULL) != PG_OK) {
                set_error(b, "creating the backfill checkpoint");
                return false;
            }
        }
    }
    b->rows_per_block =
        b->blk_up > 0 && b->rows_total > 0 ? (double)b->rows_total / (double)b->blk_up : 50.0;
    *empty = b->blk_up == 0;
    ok = true;
    return ok;
}

/* Load the checkpoint, or create it (upper bound = largest key now). */
static bool
load_or_init(bf_t *b, int64_t *batch_size, bool *empty)
{
    bf_ctx_t *c = b->c;
    char stepno[16], fillno[16];
    const char *p[2] = {c->migration, stepno};
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
                    "coalesce(batch_size, 0), last_key IS NULL, upper_key IS NULL, "
                    "coalesce(array_length(upper_key, 1), 0) "
                    "FROM convoy.backfill WHERE migration = $1 AND step = $2::int",
                    cols.data);
    if (pg_run(c->pg, sql, 2, p, &r) != PG_OK) {
        set_error(b, "reading the backfill checkpoint");
        goto done;
    }
    if (PQntuples(r) == 1) {
        int64_t n = 0;
        /* array_length of upper_key: how many ranges the checkpoint holds (0 on a bad value) */
        b->stored_lanes =
            parse_int64(PQgetvalue(r, 0, (int)(2 * b->k) + 6), 0, INT32_MAX, &n) ? (int)n : 0;
    }
    if (c->step->catchup && c->step->fill_step > 0) {
        /* the first pass's upper bound: rows at or below it existed when it started */
        PGresult *e = NULL;
        char *esql;
        const char *ep[2] = {c->migration, fillno};
        snprintf(fillno, sizeof(fillno), "%d", c->step->fill_step);
        sb_free(&cols);
        sb_init(&cols);
        for (size_t i = 0; i < b->k; i++)
            sb_printf(&cols, "%supper_key[%zu]", i ? ", " : "", i + 1);
        esql = xasprintf("SELECT %s, upper_key IS NULL FROM convoy.backfill WHERE migration = "
                         "$1 AND step = $2::int",
                         cols.data);
        if (pg_run(c->pg, esql, 2, ep, &e) != PG_OK) {
            free(esql);
            set_error(b, "reading the first pass's checkpoint");
            goto done;
        }
        free(esql);
        if (PQntuples(e) == 1 && PQgetvalue(e, 0, (int)b->k)[0] != 't')
            b->edge = keys_from_row(e, 0, 0, b->k);
        PQclear(e);
    }
    if (c->step->catchup && !c->step->set_sql && !c->step->delete_rows) {
        ok = init_blocks(b, r, empty);
        goto done;
    }
    if (PQntuples(r) == 1) {
        int base = (int)(2 * b->k);
        c->rows_done = strtoll(PQgetvalue(r, 0, base), NULL, 10);
        c->rows_updated = strtoll(PQgetvalue(r, 0, base + 1), NULL, 10);
        b->rows_total = strtoll(PQgetvalue(r, 0, base + 2), NULL, 10);
        *batch_size = strtoll(PQgetvalue(r, 0, base + 3), NULL, 10);
        b->lo = array_keys(r, 0, b->k, PQgetvalue(r, 0, base + 4)[0] == 't');
        b->up = array_keys(r, (int)b->k, b->k, PQgetvalue(r, 0, base + 5)[0] == 't');
        *empty = b->up == NULL;
        ok = true;
        goto done;
    }
    PQclear(r);
    r = NULL;

    /* First start: fix the upper bound and estimate the rows to cover. */
    free(sql);
    sb_free(&cols);
    sb_init(&cols);
    /* aliased: ORDER BY id would otherwise sort the text output column */
    for (size_t i = 0; i < b->k; i++)
        sb_printf(&cols, "%s%s::text AS convoy_k%zu", i ? ", " : "", c->step->key_cols[i], i + 1);
    {
        sb_t desc;
        sb_init(&desc);
        for (size_t i = 0; i < b->k; i++)
            sb_printf(&desc, "%s%s DESC", i ? ", " : "", c->step->key_cols[i]);
        sql = xasprintf("SELECT %s FROM %s ORDER BY %s LIMIT 1", cols.data, c->step->table_sql,
                        desc.data);
        sb_free(&desc);
    }
    if (pg_run(c->pg, sql, 0, NULL, &r) != PG_OK) {
        set_error(b, "finding the largest key");
        goto done;
    }
    if (PQntuples(r) == 0)
        *empty = true;
    else
        b->up = keys_from_row(r, 0, 0, b->k);
    PQclear(r);
    r = NULL;
    if (!*empty) {
        const char *tp[1] = {c->step->table_sql};
        char *est = pg_value(c->pg,
                             "SELECT CASE WHEN reltuples >= 0 THEN reltuples::bigint END FROM "
                             "pg_class WHERE oid = to_regclass($1)",
                             1, tp);
        b->rows_total = est ? strtoll(est, NULL, 10) : -1;
        free(est);
        if (b->rows_total < 0) { /* never analysed: count (drives progress and ETA only) */
            char *csql = xasprintf("SELECT count(*) FROM %s", c->step->table_sql);
            char *cnt = pg_value(c->pg, csql, 0, NULL);
            b->rows_total = cnt ? strtoll(cnt, NULL, 10) : -1;
            free(cnt);
            free(csql);
        }
    }
    {
        sb_t arr;
        char total[32];
        const char **ip = xcalloc(b->k + 3, sizeof(char *));
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
        ip[0] = c->migration;
        ip[1] = stepno;
        ip[2] = total;
        for (size_t i = 0; !*empty && i < b->k; i++)
            ip[3 + i] = b->up[i];
        free(sql);
        sql = xasprintf("INSERT INTO convoy.backfill (migration, step, upper_key, rows_total) "
                        "VALUES ($1, $2::int, %s, $3::bigint) ON CONFLICT DO NOTHING",
                        arr.data);
        if (pg_run(c->pg, sql, *empty ? 3 : (int)(3 + b->k), ip, NULL) != PG_OK)
            set_error(b, "creating the backfill checkpoint");
        else
            ok = true;
        sb_free(&arr);
        free(ip);
    }
done:
    PQclear(r);
    sb_free(&cols);
    free(sql);
    return ok;
}

/* Key ranges when the key is one integer column and at least half the key space is used. */
static void
choose_int_path(bf_t *b)
{
    const char *t;
    char *sql, *min;
    int64_t up_v;

    if (b->k != 1 || (b->rows_total <= 0 && b->stored_lanes <= 1))
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
    /* a checkpoint split into ranges is resumed on them, however dense the keys are now */
    b->int_path = b->stored_lanes > 1 ||
                  (double)b->rows_total * 2.0 >= (double)up_v - (double)b->int_min + 1.0;
}

/* The rows a pass rewrites: NULL ones, and on a catch-up also existing rows that drifted. */
static char *
pass_predicate(const bf_t *b, int edge_param)
{
    const step_t *s = b->c->step;

    if (s->set_sql || s->delete_rows) /* the file's own UPDATE/DELETE: its WHERE */
        return xasprintf("(%s)", s->where_sql ? s->where_sql : "true");

    if (s->catchup && b->edge) {
        char *t = param_tuple(b, edge_param);
        char *pred = xasprintf("CASE WHEN %s <= %s THEN %s IS DISTINCT FROM (%s) ELSE %s IS "
                               "NULL END",
                               b->keys, t, s->column_sql, s->expr_sql, s->column_sql);
        free(t);
        return pred;
    }
    return xasprintf("%s IS NULL", s->column_sql);
}

/* "UPDATE t SET c = e" / "UPDATE t SET <the file's SET list>" / "DELETE FROM t". */
static char *
write_head(const step_t *s)
{
    if (s->delete_rows)
        return xasprintf("DELETE FROM %s", s->table_sql);
    if (s->set_sql)
        return xasprintf("/* convoy backfill */ UPDATE %s SET %s", s->table_sql, s->set_sql);
    /* the comment tells convoy verify's usage evidence (pg_stat_statements) it is convoy's */
    return xasprintf("/* convoy backfill */ UPDATE %s SET %s = %s", s->table_sql, s->column_sql,
                     s->expr_sql);
}

/*
 * The keyset path's batch statement. Parameters: $1 migration, $2 step, $3 token, $4 size,
 * then the lo keys (`next` only), the up keys, then the catch-up edge keys.
 */
static char *
batch_sql(const bf_t *b, bool with_lo)
{
    const step_t *s = b->c->step;
    int np = 4;
    int lo_p = 0, hi_p, edge_p;
    char *lo_t = NULL, *hi_t, *pred, *sql, *head = write_head(s);

    if (with_lo) {
        lo_p = np + 1;
        np += (int)b->k;
    }
    hi_p = np + 1;
    np += (int)b->k;
    edge_p = np + 1;
    pred = pass_predicate(b, edge_p);
    if (lo_p)
        lo_t = param_tuple(b, lo_p);
    hi_t = param_tuple(b, hi_p);
    {
        sb_t sel, join, last, arr, lastcols;
        sb_init(&sel);
        sb_init(&join);
        sb_init(&last);
        sb_init(&arr);
        sb_init(&lastcols);
        for (size_t i = 0; i < b->k; i++) {
            sb_printf(&sel, "%s%s AS convoy_k%zu", i ? ", " : "", s->key_cols[i], i + 1);
            sb_printf(&join, "%s%s = b.convoy_k%zu", i ? " AND " : "", s->key_cols[i], i + 1);
            sb_printf(&last, "%sconvoy_k%zu DESC", i ? ", " : "", i + 1);
            sb_printf(&arr, "%sk%zu", i ? ", " : "", i + 1);
            sb_printf(&lastcols, ", (SELECT k%zu FROM l)", i + 1);
        }
        {
            sb_t ltxt;
            sb_init(&ltxt);
            for (size_t i = 0; i < b->k; i++)
                sb_printf(&ltxt, "%sconvoy_k%zu::text AS k%zu", i ? ", " : "", i + 1, i + 1);
            sql = xasprintf(
                "WITH b AS (SELECT %s FROM %s WHERE %s%s%s%s%s <= %s ORDER BY %s LIMIT "
                "$4::bigint), "
                "l AS (SELECT %s FROM b ORDER BY %s LIMIT 1), "
                "u AS (%s %s b WHERE %s AND %s RETURNING %s AS convoy_keys), %s"
                "cp AS (UPDATE convoy.backfill SET last_key = coalesce((SELECT ARRAY[%s] FROM l), "
                "last_key), rows_done = rows_done + (SELECT count(*) FROM b), rows_updated = "
                "rows_updated + (SELECT count(*) FROM u), batches = batches + 1, batch_size = "
                "$4::int, updated_at = now() WHERE migration = $1 AND step = $2::int AND "
                "" FENCE_SQL(1, 3) " RETURNING 1), " LEASE_SEEN_SQL
                                   "SELECT (SELECT count(*) FROM u), (SELECT count(*) FROM cp), "
                                   "(SELECT status FROM "
                                   "convoy.migrations WHERE name = $1), (SELECT count(*) FROM b)%s",
                sel.data, s->table_sql, lo_t ? b->keys : "", lo_t ? " > " : "", lo_t ? lo_t : "",
                lo_t ? " AND " : "", b->keys, hi_t, b->order, ltxt.data, last.data, head,
                s->delete_rows ? "USING" : "FROM", join.data, pred,
                s->cache_keys_sql ? s->cache_keys_sql : "1",
                s->cache_keys_sql ? OUTBOX_CTE(1, 2) : "", arr.data, lastcols.data);
            sb_free(&ltxt);
        }
        sb_free(&sel);
        sb_free(&join);
        sb_free(&last);
        sb_free(&arr);
        sb_free(&lastcols);
    }
    free(lo_t);
    free(hi_t);
    free(pred);
    free(head);
    return sql;
}

typedef enum { BATCH_OK, BATCH_RETRY, BATCH_FENCED, BATCH_CONN_LOST, BATCH_FAIL } batch_t;

/*
 * A range path's write: with -- convoy:cache key, the touched rows' keys go to the outbox in
 * the same statement (so in the batch's transaction), and the statement returns the count
 * of rows it wrote. $n+1 is the migration, $n+2 the step.
 */
static char *
with_outbox(const step_t *s, char *write_sql, int n)
{
    char *sql, m[16], st[16];

    if (s->cache_keys_sql == NULL)
        return write_sql;
    snprintf(m, sizeof(m), "$%d", n + 1);
    snprintf(st, sizeof(st), "$%d", n + 2);
    sql = xasprintf(
        "WITH u AS (%s RETURNING %s AS convoy_keys), i AS (INSERT INTO "
        "convoy.invalidations (migration, step, kind, keys) SELECT %s, %s::int, 'key', " OUTBOX_KEYS
        ") "
        "SELECT count(*) FROM u",
        write_sql, s->cache_keys_sql, m, st);
    free(write_sql);
    return sql;
}

/* Prepares `name` once per pass. */
static pg_status_t
prepare_once(pg_t *pg, const char *name, bool *prepared, char *sql)
{
    pg_status_t st = PG_OK;

    if (!*prepared) {
        st = pg_prepare(pg, name, sql, 0);
        *prepared = st == PG_OK;
    }
    free(sql);
    return st;
}

/* How a failed batch statement ends: retried, fenced, connection lost or failed. */
static batch_t
batch_failure(bf_t *b, pg_status_t st, bool in_tx)
{
    bf_ctx_t *c = b->c;

    set_error(b, "batch");
    if (in_tx && st != PG_CONN_LOST)
        pg_exec(c->pg, "ROLLBACK");
    if (st == PG_FENCED)
        return BATCH_FENCED;
    if (st == PG_CONN_LOST)
        return BATCH_CONN_LOST;
    if (st == PG_LOCK_TIMEOUT || st == PG_CANCELED || strcmp(c->sqlstate, "40P01") == 0 ||
        strcmp(c->sqlstate, "40001") == 0)
        return BATCH_RETRY;
    return BATCH_FAIL;
}

/*
 * Before the next batch: an operator's pause, and the fleet's gate (replica lag, unknown
 * agents). BF_DONE: go on (the gate may have changed the batch target).
 */
static bf_result_t
before_batch(bf_t *b, chunk_ctl_t *ctl)
{
    bf_ctx_t *c = b->c;
    hold_ctx_t h = {c->pg, c->migration, c->token, c->ctl, c->events, c->gate, NULL};
    gate_query_t q = {0};

    q.point = GATE_BEFORE_BATCH;
    q.migration = c->migration;
    q.step = c->step_no;
    q.s = c->step;
    q.target_ms = ctl->target_ms;
    switch (hold_wait(&h, &q, b->seen_paused ? MIG_PAUSED : MIG_RUNNING)) {
    case XR_OK:
        break;
    case XR_ABORT:
        return BF_ABORT_REQUESTED;
    case XR_INTERRUPTED:
        return BF_INTERRUPTED;
    case XR_FENCED:
        return BF_FENCED;
    default:
        return BF_CONN_LOST;
    }
    if (q.target_ms > 0 && q.target_ms != ctl->target_ms)
        ctl->target_ms = q.target_ms;
    return BF_DONE;
}

/* One batch, one round trip. */
static batch_t
run_batch(
    bf_t *b, int64_t size, int64_t *covered, int64_t *updated, bool *finished, bool *abort_req)
{
    bf_ctx_t *c = b->c;
    size_t k = b->k;
    const char **p = xcalloc(3 * k + 6, sizeof(char *));
    char stepno[16], tok[32], sz[32];
    char **hi = NULL;
    PGresult *r = NULL;
    batch_t res = BATCH_FAIL;
    pg_status_t st;
    const char *name;
    int np = 0;

    *finished = false;
    *abort_req = false;
    snprintf(stepno, sizeof(stepno), "%d", c->step_no);
    snprintf(tok, sizeof(tok), "%lld", (long long)c->token);
    snprintf(sz, sizeof(sz), "%lld", (long long)size);
    p[np++] = c->migration;
    p[np++] = stepno;
    p[np++] = tok;
    p[np++] = sz;
    if (b->lo)
        for (size_t i = 0; i < k; i++)
            p[np++] = b->lo[i];
    for (size_t i = 0; i < k; i++)
        p[np++] = b->up[i];
    name = b->lo ? b->name_next : b->name_first;
    for (size_t i = 0; b->edge && c->step->catchup && i < k; i++)
        p[np++] = b->edge[i];
    {
        bool *prepared = name == b->name_first ? &b->prepared_first : &b->prepared_next;
        if (!*prepared) {
            char *sql = batch_sql(b, name == b->name_next);
            st = pg_prepare(c->pg, name, sql, 0);
            free(sql);
            if (st != PG_OK)
                goto failed;
            *prepared = true;
        }
    }
    st = pg_run_prepared(c->pg, name, np, p, &r);
    if (st != PG_OK)
        goto failed;
    if (strcmp(PQgetvalue(r, 0, 1), "1") != 0) {
        free(c->error);
        c->error = xstrdup("the backfill checkpoint row disappeared");
        goto done;
    }
    *updated = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    *covered = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
    *abort_req = strcmp(PQgetvalue(r, 0, 2), "aborting") == 0;
    b->seen_paused = strcmp(PQgetvalue(r, 0, 2), "paused") == 0;
    *finished = *covered < size;
    if (*covered > 0)
        hi = keys_from_row(r, 0, 4, k);
    if (hi) {
        for (size_t i = 0; b->lo && i < k; i++)
            free(b->lo[i]);
        free(b->lo);
        b->lo = hi;
        hi = NULL;
    }
    res = BATCH_OK;
    goto done;

failed:
    res = batch_failure(b, st, false); /* one autocommit statement: nothing to roll back */
done:
    PQclear(r);
    strv_free(hi, hi ? k : 0);
    free(p);
    return res;
}

/*
 * The batch failed on data: find the first row whose value cannot be computed, by
 * bisecting the batch's keys with the same UPDATE in a transaction that is rolled back.
 */
static void
find_failing_row(bf_t *b, int64_t size)
{
    bf_ctx_t *c = b->c;
    const step_t *s = c->step;
    size_t k = b->k, n = 0;
    char *lo_t = b->lo ? param_tuple(b, 1) : NULL, *sql, *pred;
    const char **p = xcalloc(3 * k + 2, sizeof(char *));
    char lim[32];
    char ***keys = NULL;
    PGresult *r = NULL;
    int np = 0;
    size_t lo_i, hi_i;
    sb_t sel;

    sb_init(&sel);
    for (size_t i = 0; i < k; i++)
        sb_printf(&sel, "%s%s::text AS convoy_k%zu", i ? ", " : "", s->key_cols[i], i + 1);
    for (size_t i = 0; b->lo && i < k; i++)
        p[np++] = b->lo[i];
    snprintf(lim, sizeof(lim), "%lld", (long long)size);
    p[np++] = lim;
    sql = xasprintf("SELECT %s FROM %s WHERE %s%s%s ORDER BY %s LIMIT $%d::bigint", sel.data,
                    s->table_sql, lo_t ? b->keys : "true", lo_t ? " > " : "", lo_t ? lo_t : "",
                    b->order, np);
    if (pg_run(c->pg, sql, np, p, &r) == PG_OK) {
        n = (size_t)PQntuples(r);
        keys = xcalloc(n ? n : 1, sizeof(char **));
        for (size_t i = 0; i < n; i++)
            keys[i] = keys_from_row(r, (int)i, 0, k);
    }
    PQclear(r);
    free(sql);
    free(lo_t);
    /* fails(i, j): does the UPDATE of keys[i..j] fail? */
    pred = pass_predicate(b, 2 * (int)k + 1);
    {
        char *a = param_tuple(b, 1), *z = param_tuple(b, (int)k + 1);
        char *head = write_head(s);
        sql =
            xasprintf("%s WHERE %s >= %s AND %s <= %s AND %s", head, b->keys, a, b->keys, z, pred);
        free(head);
        free(a);
        free(z);
    }
    lo_i = 0;
    hi_i = n ? n - 1 : 0;
    while (n > 0) {
        size_t mid = lo_i + (hi_i - lo_i) / 2;
        size_t j = lo_i == hi_i ? hi_i : mid;
        bool failed;
        np = 0;
        for (size_t i = 0; i < k; i++)
            p[np++] = keys[lo_i][i];
        for (size_t i = 0; i < k; i++)
            p[np++] = keys[j][i];
        for (size_t i = 0; b->edge && s->catchup && i < k; i++)
            p[np++] = b->edge[i];
        pg_exec(c->pg, "BEGIN");
        failed = pg_run(c->pg, sql, np, p, NULL) != PG_OK;
        if (failed && pg_classify(pg_sqlstate(c->pg)) == PG_ERROR) {
            free(c->error);
            c->error = xstrdup(pg_errmsg(c->pg));
            snprintf(c->sqlstate, sizeof(c->sqlstate), "%s", pg_sqlstate(c->pg));
        } else if (failed) {
            pg_exec(c->pg, "ROLLBACK");
            break; /* a lock or a cancel: keep the batch-level message */
        }
        pg_exec(c->pg, "ROLLBACK");
        if (lo_i == hi_i) {
            if (failed) {
                sb_t kd;
                sb_init(&kd);
                sb_puts(&kd, b->keys);
                sb_puts(&kd, "=(");
                for (size_t i = 0; i < k; i++)
                    sb_printf(&kd, "%s%s", i ? ", " : "", keys[lo_i][i]);
                sb_putc(&kd, ')');
                c->failing_key = sb_steal(&kd);
            }
            break;
        }
        if (failed)
            hi_i = mid;
        else
            lo_i = mid + 1;
    }
    for (size_t i = 0; i < n; i++)
        strv_free(keys[i], k);
    free(keys);
    free(pred);
    free(sql);
    free(p);
    sb_free(&sel);
}

static void
report_progress(bf_t *b, int64_t started, int64_t run_rows, int64_t size, int64_t elapsed)
{
    bf_ctx_t *c = b->c;
    engine_event_t e = {0};
    int64_t wall = now_mono_ms() - started;
    double pct;

    if (b->n_lanes > 0) {
        double span = 0, covered = 0;
        for (int i = 0; i < b->n_lanes; i++) {
            span += (double)(b->lanes[i].end - b->lanes[i].start);
            covered += (double)(b->lanes[i].pos - b->lanes[i].start);
        }
        pct = span > 0 ? 100.0 * covered / span : 100.0;
    } else {
        pct = b->rows_total > 0 ? 100.0 * (double)c->rows_done / (double)b->rows_total : 100.0;
    }
    if (pct > 100.0)
        pct = 100.0;
    e.kind = EVT_PROGRESS;
    e.migration = c->migration;
    e.step = c->step_no;
    e.s = c->step;
    e.done = c->rows_done;
    e.total = b->rows_total;
    e.updated = c->rows_updated;
    e.pct = pct;
    e.rate = wall > 0 ? (double)run_rows * 1000.0 / (double)wall : 0;
    e.eta_ms = pct > 0 && pct < 100.0 ? (int64_t)((double)wall * (100.0 - pct) / pct) : -1;
    e.batch_rows = size;
    e.batch_ms = elapsed;
    events_emit(c->events, &e);
}

/* ---- The range paths (dense integer key, heap blocks): lanes ---- */

/*
 * A batch hit a lock or statement timeout: true (with the delay before the retry) while
 * the retry budget lasts; the same policy and message for every path.
 */
static bool
retry_delay(bf_t *b, int *failures, int64_t *fail_since, chunk_ctl_t *ctl, int64_t *delay)
{
    bf_ctx_t *c = b->c;

    if (*failures == 0)
        *fail_since = now_mono_ms();
    (*failures)++;
    chunk_observe(ctl, 0, (int64_t)((double)c->target_ms * CHUNK_OUTLIER_FACTOR) + 1);
    if (!retry_allowed(c->retry, *failures, now_mono_ms() - *fail_since))
        return false;
    *delay = retry_delay_ms(c->retry, *failures, randombytes_random());
    events_line(c->events, EVT_WAIT, c->migration, c->step_no,
                "    waiting: batch hit a lock or statement timeout (%s); retry %d in %lld ms "
                "with %lld rows",
                c->error, *failures, (long long)*delay, (long long)ctl->size);
    return true;
}

/* The session settings of a backfill pass (the step's session, and each lane's own). */
static char *
session_settings(const bf_ctx_t *c)
{
    /* synchronous_commit off: a batch and its checkpoint commit together, so a crash loses
     * at most whole batches, which the resume redoes; nothing waits for each WAL flush */
    return xasprintf("SET convoy.backfill = 'on'; SET synchronous_commit = off; "
                     "SET lock_timeout = '%lldms'; "
                     "SET statement_timeout = '%lldms'",
                     (long long)c->lock_timeout_ms,
                     (long long)(c->target_ms * 20 > 10000 ? c->target_ms * 20 : 10000));
}

/* Each range's element of the checkpoint: upper_key[i] and last_key[i] (NULL: none). */
static bool
read_ranges(bf_t *b, int64_t *up, int64_t *last, bool *last_null, int *n)
{
    bf_ctx_t *c = b->c;
    char stepno[16];
    const char *p[2] = {c->migration, stepno};
    PGresult *r = NULL;

    snprintf(stepno, sizeof(stepno), "%d", c->step_no);
    if (pg_run(c->pg,
               "SELECT upper_key[i], last_key[i] IS NULL, last_key[i] FROM convoy.backfill, "
               "generate_series(1, coalesce(array_length(upper_key, 1), 0)) i "
               "WHERE migration = $1 AND step = $2::int ORDER BY i",
               2, p, &r) != PG_OK) {
        set_error(b, "reading the backfill checkpoint's ranges");
        return false;
    }
    *n = PQntuples(r) < MIGRATION_MAX_BACKFILL_WORKERS ? PQntuples(r)
                                                       : MIGRATION_MAX_BACKFILL_WORKERS;
    for (int i = 0; i < *n; i++) {
        up[i] = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        last_null[i] = PQgetvalue(r, i, 1)[0] == 't';
        last[i] = last_null[i] ? 0 : strtoll(PQgetvalue(r, i, 2), NULL, 10);
    }
    PQclear(r);
    return true;
}

/*
 * Splits the pass into lanes. The ranges are fixed by the first start: upper_key holds the
 * pass's bound, then where ranges 2..n begin. Until a batch has committed (nothing is
 * covered yet) the split follows the plan's worker count; after that the stored one.
 */
static bool
split_lanes(bf_t *b, int64_t base, int64_t up, int want)
{
    bf_ctx_t *c = b->c;
    int64_t stored_up[MIGRATION_MAX_BACKFILL_WORKERS], last[MIGRATION_MAX_BACKFILL_WORKERS];
    int64_t bound[MIGRATION_MAX_BACKFILL_WORKERS + 1];
    bool last_null[MIGRATION_MAX_BACKFILL_WORKERS];
    int n = 0, w;

    if (!read_ranges(b, stored_up, last, last_null, &n))
        return false;
    if (c->rows_done > 0 && n > 0) {
        w = n;
        for (int i = 1; i < w; i++)
            bound[i] = stored_up[i];
    } else {
        sb_t arr;
        char stepno[16], tok[32];
        const char *p[4] = {c->migration, stepno, tok, NULL};

        memset(last_null, 1, sizeof(last_null));
        w = chunk_split(
            base, up, want > MIGRATION_MAX_BACKFILL_WORKERS ? MIGRATION_MAX_BACKFILL_WORKERS : want,
            bound);
        sb_init(&arr);
        sb_printf(&arr, "{%lld", (long long)up);
        for (int i = 1; i < w; i++)
            sb_printf(&arr, ",%lld", (long long)bound[i]);
        sb_putc(&arr, '}');
        if (w != (n > 0 ? n : 1)) {
            snprintf(stepno, sizeof(stepno), "%d", c->step_no);
            snprintf(tok, sizeof(tok), "%lld", (long long)c->token);
            p[3] = arr.data;
            if (pg_run(c->pg,
                       "UPDATE convoy.backfill SET upper_key = $4::text[], last_key = NULL "
                       "WHERE migration = $1 AND step = $2::int AND rows_done = 0 AND " FENCE_SQL(
                           1, 3),
                       4, p, NULL) != PG_OK) {
                set_error(b, "splitting the backfill into ranges");
                sb_free(&arr);
                return false;
            }
        }
        sb_free(&arr);
    }
    bound[0] = base;
    bound[w] = up;
    b->n_lanes = w;
    for (int i = 0; i < w; i++) {
        lane_t *l = &b->lanes[i];
        memset(l, 0, sizeof(*l));
        l->idx = i + 1;
        l->start = bound[i];
        l->end = bound[i + 1];
        l->pos = i < n && !last_null[i] ? last[i] : l->start;
        l->phase = l->pos >= l->end ? LANE_DONE : LANE_IDLE;
    }
    return true;
}

/* Lane 1 runs on the step's session; the others on sessions of their own, set up alike. */
static bool
open_lanes(bf_t *b)
{
    bf_ctx_t *c = b->c;
    char *set = NULL, *sp = pg_value(c->pg, "SELECT current_setting('search_path')", 0, NULL);
    bool ok = true;

    b->lanes[0].pg = c->pg;
    for (int i = 1; ok && i < b->n_lanes; i++) {
        lane_t *l = &b->lanes[i];
        char *err = NULL;
        const char *p[1] = {sp};
        if ((l->pg = pg_connect_like(c->pg, &err)) == NULL) {
            free(c->error);
            c->error = xasprintf("opening backfill session %d of %d: %s", i + 1, b->n_lanes, err);
            c->sqlstate[0] = '\0';
            free(err);
            ok = false;
            break;
        }
        l->own_pg = true;
        if (set == NULL)
            set = session_settings(c);
        if (pg_exec(l->pg, set) != PG_OK ||
            (sp &&
             pg_run(l->pg, "SELECT set_config('search_path', $1, false)", 1, p, NULL) != PG_OK)) {
            free(c->error);
            c->error = xasprintf("preparing backfill session %d: %s", i + 1, pg_errmsg(l->pg));
            ok = false;
        }
        if (c->ctl && i - 1 < RUN_CTL_MAX_EXTRA)
            c->ctl->extra[i - 1] = l->pg->cancel;
    }
    free(set);
    free(sp);
    return ok;
}

static void
close_lanes(bf_t *b)
{
    for (int i = 0; i < b->n_lanes; i++) {
        free(b->lanes[i].error);
        b->lanes[i].error = NULL;
    }
    for (int i = 1; i < b->n_lanes; i++) {
        if (b->c->ctl && i - 1 < RUN_CTL_MAX_EXTRA)
            b->c->ctl->extra[i - 1] = NULL;
        if (b->lanes[i].own_pg)
            pg_close(&b->lanes[i].pg);
    }
}

/* The lane's write, prepared on its session: a key range or a block range. */
static pg_status_t
prepare_lane(bf_t *b, lane_t *l, int nwp)
{
    const step_t *s = b->c->step;
    char *head, *pred, *where;
    pg_status_t st;

    if (l->prepared_write && l->prepared_cp)
        return PG_OK;
    head = write_head(s);
    pred = pass_predicate(b, 3);
    if (b->ctid_path) {
        where = xstrdup("ctid >= $1::tid AND ctid < $2::tid");
    } else {
        char *lo_t = param_tuple(b, 1), *hi_t = param_tuple(b, 2);
        where = xasprintf("%s > %s AND %s <= %s", b->keys, lo_t, b->keys, hi_t);
        free(lo_t);
        free(hi_t);
    }
    st = prepare_once(l->pg, b->name_write, &l->prepared_write,
                      with_outbox(s, xasprintf("%s WHERE %s AND %s", head, where, pred), nwp));
    free(where);
    free(head);
    free(pred);
    if (st != PG_OK)
        return st;
    /* the checkpoint at the lane's element, the fencing check and the lease's progress */
    return prepare_once(
        l->pg, b->name_cp, &l->prepared_cp,
        xstrdup("WITH cp AS (UPDATE convoy.backfill SET last_key[$8::int] = $4::text, "
                "rows_done = rows_done + $5::bigint, rows_updated = rows_updated + $6::bigint, "
                "batches = batches + 1, batch_size = $7::int, updated_at = now() "
                "WHERE migration = $1 AND step = $2::int AND " FENCE_SQL(
                    1, 3) " RETURNING 1), " LEASE_SEEN_SQL
                          "SELECT (SELECT count(*) FROM cp), (SELECT status FROM "
                          "convoy.migrations WHERE name = $1)"));
}

typedef struct {
    bf_result_t end; /* BF_ERROR with !ending: none yet */
    bool ending;
    bool gate_due; /* a batch finished: ask the gate before the next one starts */
    int failed_lane;
    int64_t started, run_rows;
} lanes_run_t;

static bool
severe(bf_result_t r)
{
    return r == BF_FENCED || r == BF_CONN_LOST || r == BF_FAILED || r == BF_ERROR;
}

/* The pass ends with r once no lane has a statement out (a severe end outranks the others). */
static void
lanes_end(lanes_run_t *lr, bf_result_t r)
{
    if (!lr->ending || (severe(r) && !severe(lr->end))) {
        lr->end = r;
        lr->ending = true;
    }
}

static void
lane_error(lane_t *l, const char *what)
{
    free(l->error);
    l->error = xasprintf("%s: %s", what, pg_errmsg(l->pg));
    snprintf(l->sqlstate, sizeof(l->sqlstate), "%s", pg_sqlstate(l->pg));
}

/* The lane's batch failed with st and its transaction is over: retry, or end the pass. */
static void
lane_failed(bf_t *b, lanes_run_t *lr, lane_t *l, pg_status_t st)
{
    bf_ctx_t *c = b->c;
    int64_t delay = 0;

    l->phase = LANE_IDLE;
    if (!(lr->ending && severe(lr->end))) { /* the error the pass reports: the first severe */
        free(c->error);
        c->error = xstrdup(l->error ? l->error : "batch failed");
        snprintf(c->sqlstate, sizeof(c->sqlstate), "%s", l->sqlstate);
    }
    if (st == PG_FENCED) {
        lanes_end(lr, BF_FENCED);
    } else if (st == PG_CONN_LOST) {
        lanes_end(lr, BF_CONN_LOST);
    } else if (st == PG_LOCK_TIMEOUT || st == PG_CANCELED || strcmp(l->sqlstate, "40P01") == 0 ||
               strcmp(l->sqlstate, "40001") == 0) {
        if (run_ctl_stopped(c->ctl))
            lanes_end(lr, BF_INTERRUPTED);
        else if (!retry_delay(b, &l->failures, &l->fail_since, &l->ctl, &delay))
            lanes_end(lr, BF_LOCKED);
        else {
            l->phase = LANE_WAIT;
            l->wake_at = now_mono_ms() + delay;
        }
    } else {
        lanes_end(lr, BF_FAILED);
        lr->failed_lane = (int)(l - b->lanes);
    }
}

/* Starts the lane's next batch: BEGIN goes out, the write follows when it is through. */
static void
lane_start(bf_t *b, lanes_run_t *lr, lane_t *l)
{
    int64_t step;
    int nwp = 2 + (b->edge && b->c->step->catchup ? (int)b->k : 0);
    pg_status_t st = prepare_lane(b, l, nwp);

    l->withdrawn = false;
    if (st != PG_OK) {
        lane_error(l, "batch");
        lane_failed(b, lr, l, st);
        return;
    }
    l->size = l->ctl.size;
    step = b->ctid_path ? (int64_t)((double)l->size / b->rows_per_block) : l->size;
    if (step < 1)
        step = 1;
    l->hi = l->end - l->pos <= step ? l->end : l->pos + step;
    l->covered =
        b->ctid_path ? (int64_t)((double)(l->hi - l->pos) * b->rows_per_block) : l->hi - l->pos;
    l->t0 = now_mono_ms();
    pg_send(l->pg, NULL, "BEGIN", 0, NULL);
    l->phase = LANE_BEGIN;
}

static void
lane_send_write(bf_t *b, lane_t *l)
{
    bf_ctx_t *c = b->c;
    char lo_s[48], hi_s[48], stepno[16];
    const char **wp = xcalloc(b->k + 4, sizeof(char *));
    int n = 2;

    wp[0] = lo_s;
    wp[1] = hi_s;

    if (b->ctid_path) {
        snprintf(lo_s, sizeof(lo_s), "(%lld,0)", (long long)l->pos);
        snprintf(hi_s, sizeof(hi_s), "(%lld,0)", (long long)l->hi);
    } else {
        snprintf(lo_s, sizeof(lo_s), "%lld", (long long)l->pos);
        snprintf(hi_s, sizeof(hi_s), "%lld", (long long)l->hi);
    }
    for (size_t i = 0; b->edge && c->step->catchup && i < b->k; i++)
        wp[n++] = b->edge[i];
    snprintf(stepno, sizeof(stepno), "%d", c->step_no);
    if (c->step->cache_keys_sql) { /* the outbox's migration and step */
        wp[n++] = c->migration;
        wp[n++] = stepno;
    }
    pg_send(l->pg, b->name_write, NULL, n, wp); /* libpq has copied the values */
    free(wp);
    l->phase = LANE_WRITE;
}

static void
lane_send_checkpoint(bf_t *b, lane_t *l)
{
    bf_ctx_t *c = b->c;
    char last[32], cov[32], upd[32], sz[32], stepno[16], tok[32], idx[16];
    const char *cp[8] = {c->migration, stepno, tok, last, cov, upd, sz, idx};

    snprintf(last, sizeof(last), "%lld", (long long)l->hi);
    snprintf(cov, sizeof(cov), "%lld", (long long)l->covered);
    snprintf(upd, sizeof(upd), "%lld", (long long)l->updated);
    snprintf(sz, sizeof(sz), "%lld", (long long)l->size);
    snprintf(stepno, sizeof(stepno), "%d", c->step_no);
    snprintf(tok, sizeof(tok), "%lld", (long long)c->token);
    snprintf(idx, sizeof(idx), "%d", l->idx);
    pg_send(l->pg, b->name_cp, NULL, 8, cp);
    l->phase = LANE_CP;
}

/* The batch committed: the lane moves on. */
static void
lane_committed(bf_t *b, lanes_run_t *lr, lane_t *l)
{
    bf_ctx_t *c = b->c;
    int64_t elapsed = now_mono_ms() - l->t0;

    l->pos = l->hi;
    l->failures = 0;
    c->rows_done += l->covered;
    c->rows_updated += l->updated;
    lr->run_rows += l->covered;
    l->phase = l->pos >= l->end ? LANE_DONE : LANE_IDLE;
    report_progress(b, lr->started, lr->run_rows, l->size, elapsed);
    chunk_observe(&l->ctl, l->covered > 0 ? l->covered : l->size, elapsed);
    b->seen_paused = l->paused;
    if (l->abort_req)
        lanes_end(lr, BF_ABORT_REQUESTED);
    if (b->seen_paused || c->gate)
        lr->gate_due = true;
}

/* The statement the lane sent has its result: the batch's next step. */
static void
lane_advance(bf_t *b, lanes_run_t *lr, lane_t *l)
{
    PGresult *r = NULL;
    pg_status_t st = pg_collect(l->pg, &r);

    if (st != PG_OK && l->phase != LANE_ROLLBACK) {
        lane_error(l, "batch");
        if (l->phase == LANE_BEGIN || l->phase == LANE_COMMIT || st == PG_CONN_LOST) {
            lane_failed(b, lr, l, st); /* no transaction is left open */
        } else {
            l->failed = st;
            pg_send(l->pg, NULL, "ROLLBACK", 0, NULL);
            l->phase = LANE_ROLLBACK;
        }
        return;
    }
    switch (l->phase) {
    case LANE_BEGIN:
        if (lr->ending || run_ctl_stopped(b->c->ctl)) { /* no new write once the pass ends */
            l->withdrawn = true;
            pg_send(l->pg, NULL, "ROLLBACK", 0, NULL);
            l->phase = LANE_ROLLBACK;
            break;
        }
        lane_send_write(b, l);
        break;
    case LANE_WRITE:
        /* with an outbox the write returns its count; without, its command tag has it */
        l->updated = PQntuples(r) == 1 ? strtoll(PQgetvalue(r, 0, 0), NULL, 10)
                                       : strtoll(PQcmdTuples(r), NULL, 10);
        lane_send_checkpoint(b, l);
        break;
    case LANE_CP:
        if (strcmp(PQgetvalue(r, 0, 0), "1") != 0) {
            if (!(lr->ending && severe(lr->end))) {
                free(b->c->error);
                b->c->error = xstrdup("the backfill checkpoint row disappeared");
                b->c->sqlstate[0] = '\0';
            }
            l->failed = PG_ERROR;
            lanes_end(lr, BF_ERROR);
            pg_send(l->pg, NULL, "ROLLBACK", 0, NULL);
            l->phase = LANE_ROLLBACK;
            break;
        }
        l->abort_req = strcmp(PQgetvalue(r, 0, 1), "aborting") == 0;
        l->paused = strcmp(PQgetvalue(r, 0, 1), "paused") == 0;
        pg_send(l->pg, NULL, "COMMIT", 0, NULL);
        l->phase = LANE_COMMIT;
        break;
    case LANE_COMMIT:
        lane_committed(b, lr, l);
        break;
    case LANE_ROLLBACK:
        if (st == PG_CONN_LOST)
            lane_failed(b, lr, l, st);
        else if (l->withdrawn || (lr->ending && lr->end == BF_ERROR))
            l->phase = LANE_IDLE;
        else
            lane_failed(b, lr, l, l->failed);
        break;
    default:
        break;
    }
    PQclear(r);
}

static bool
in_flight(const lane_t *l)
{
    return l->phase >= LANE_BEGIN && l->phase <= LANE_ROLLBACK;
}

/*
 * The range paths' loop: each lane runs batch after batch on its own session, BEGIN, the
 * prepared write, the fenced checkpoint at its element of last_key, COMMIT, without waiting
 * for the others. Where the loop may be held (an operator's pause, the fleet's gate), it
 * first lets every lane finish the batch it has out, then asks once for all of them.
 */
static bf_result_t
run_lanes(bf_t *b, int64_t size)
{
    bf_ctx_t *c = b->c;
    lanes_run_t lr = {.end = BF_ERROR, .failed_lane = -1, .started = now_mono_ms()};

    for (int i = 0; i < b->n_lanes; i++)
        chunk_init(&b->lanes[i].ctl, c->target_ms,
                   size > 0       ? size
                   : b->ctid_path ? 20 * CHUNK_INITIAL_ROWS /* a catch-up mostly reads */
                                  : CHUNK_INITIAL_ROWS);
    if (b->n_lanes > 1)
        events_line(c->events, EVT_INFO, c->migration, c->step_no,
                    "    %d sessions side by side, one %s range each", b->n_lanes,
                    b->ctid_path ? "block" : "key");
    if (!open_lanes(b))
        lanes_end(&lr, BF_ERROR);
    for (;;) {
        struct pollfd fds[MIGRATION_MAX_BACKFILL_WORKERS];
        int nfd = 0, out = 0, done = 0;
        int64_t now = now_mono_ms(), timeout = 20;

        if (!lr.ending && run_ctl_stopped(c->ctl))
            lanes_end(&lr, BF_INTERRUPTED);
        for (int i = 0; i < b->n_lanes; i++)
            out += in_flight(&b->lanes[i]);
        if (!lr.ending && lr.gate_due && out == 0) {
            bf_result_t g = before_batch(b, &b->lanes[0].ctl);
            if (g != BF_DONE)
                lanes_end(&lr, g);
            for (int i = 1; i < b->n_lanes; i++)
                b->lanes[i].ctl.target_ms = b->lanes[0].ctl.target_ms;
            lr.gate_due = false;
        }
        for (int i = 0; !lr.ending && !lr.gate_due && i < b->n_lanes; i++) {
            lane_t *l = &b->lanes[i];
            if (l->phase == LANE_IDLE || (l->phase == LANE_WAIT && l->wake_at <= now))
                lane_start(b, &lr, l);
        }
        out = 0;
        for (int i = 0; i < b->n_lanes; i++) {
            lane_t *l = &b->lanes[i];
            done += l->phase == LANE_DONE;
            if (in_flight(l)) {
                fds[nfd].fd = pg_socket(l->pg);
                fds[nfd].events = POLLIN;
                fds[nfd++].revents = 0;
                out++;
            } else if (l->phase == LANE_WAIT && l->wake_at - now < timeout) {
                timeout = l->wake_at - now > 0 ? l->wake_at - now : 0;
            }
        }
        if (out == 0 && (done == b->n_lanes || lr.ending))
            break;
        if (nfd > 0)
            poll(fds, (nfds_t)nfd, (int)timeout);
        else
            run_ctl_sleep(c->ctl, timeout);
        for (int i = 0; i < b->n_lanes; i++)
            if (in_flight(&b->lanes[i]) && !pg_busy(b->lanes[i].pg))
                lane_advance(b, &lr, &b->lanes[i]);
    }
    if (lr.ending && lr.end == BF_FAILED && lr.failed_lane >= 0 && !b->ctid_path &&
        pg_classify(c->sqlstate) == PG_ERROR && strncmp(c->sqlstate, "42", 2) != 0) {
        lane_t *l = &b->lanes[lr.failed_lane];
        char pos[32];
        char *lo[1] = {pos};
        char **saved = b->lo;
        snprintf(pos, sizeof(pos), "%lld", (long long)l->pos);
        b->lo = lo;
        find_failing_row(b, l->ctl.size);
        b->lo = saved;
    }
    b->prepared_write = b->lanes[0].prepared_write;
    b->prepared_cp = b->lanes[0].prepared_cp;
    close_lanes(b);
    {
        int done = 0;
        for (int i = 0; i < b->n_lanes; i++)
            done += b->lanes[i].phase == LANE_DONE;
        if (done == b->n_lanes && !(lr.ending && severe(lr.end)))
            return BF_DONE; /* a stop or an abort that came with the last batch: it is done */
    }
    return lr.end;
}

bf_result_t
backfill_run(bf_ctx_t *c)
{
    bf_t b = {0};
    chunk_ctl_t ctl;
    int64_t size = 0, started = now_mono_ms(), run_rows = 0, fail_since = 0;
    int failures = 0;
    bool empty = false;
    bf_result_t res = BF_ERROR;
    sb_t keys, order;
    char *set;

    b.c = c;
    b.k = c->step->n_keys;
    sb_init(&keys);
    sb_init(&order);
    sb_putc(&keys, '(');
    for (size_t i = 0; i < b.k; i++) {
        sb_printf(&keys, "%s%s", i ? ", " : "", c->step->key_cols[i]);
        sb_printf(&order, "%s%s", i ? ", " : "", c->step->key_cols[i]);
    }
    sb_putc(&keys, ')');
    b.keys = sb_steal(&keys);
    b.order = sb_steal(&order);
    snprintf(b.name_first, sizeof(b.name_first), "convoy_bf%d_first", c->step_no);
    snprintf(b.name_next, sizeof(b.name_next), "convoy_bf%d_next", c->step_no);
    snprintf(b.name_write, sizeof(b.name_write), "convoy_bf%d_write", c->step_no);
    snprintf(b.name_cp, sizeof(b.name_cp), "convoy_bf%d_cp", c->step_no);
    /* The session is convoy's own: the batch settings hold until the pass ends. */
    set = session_settings(c);
    if (pg_exec(c->pg, set) != PG_OK) {
        set_error(&b, "preparing the session");
        free(set);
        goto done;
    }
    free(set);

    if (!load_or_init(&b, &size, &empty))
        goto done;
    if (empty) {
        res = BF_DONE;
        goto done;
    }
    if (!b.ctid_path)
        choose_int_path(&b);
    if (b.lo || c->rows_done > 0)
        events_line(c->events, EVT_INFO, c->migration, c->step_no,
                    "    resuming from the checkpoint: %lld rows covered, %lld updated",
                    (long long)c->rows_done, (long long)c->rows_updated);
    if (b.int_path || b.ctid_path) {
        if (split_lanes(&b, b.ctid_path ? 0 : b.int_min - 1,
                        b.ctid_path ? b.blk_up : strtoll(b.up[0], NULL, 10), c->workers))
            res = run_lanes(&b, size);
        goto done;
    }
    chunk_init(&ctl, c->target_ms, size > 0 ? size : CHUNK_INITIAL_ROWS);

    for (;;) {
        int64_t covered = 0, updated = 0, t0, elapsed;
        bool finished = false, abort_req = false;
        batch_t br;

        if (run_ctl_stopped(c->ctl)) {
            res = BF_INTERRUPTED;
            goto done;
        }
        t0 = now_mono_ms();
        br = run_batch(&b, ctl.size, &covered, &updated, &finished, &abort_req);
        elapsed = now_mono_ms() - t0;
        if (br == BATCH_FENCED) {
            res = BF_FENCED;
            goto done;
        }
        if (br == BATCH_CONN_LOST) {
            res = BF_CONN_LOST;
            goto done;
        }
        if (br == BATCH_FAIL) {
            if (pg_classify(c->sqlstate) == PG_ERROR && strncmp(c->sqlstate, "42", 2) != 0)
                find_failing_row(&b, ctl.size);
            res = BF_FAILED;
            goto done;
        }
        if (br == BATCH_RETRY) {
            int64_t delay;
            if (run_ctl_stopped(c->ctl)) {
                res = BF_INTERRUPTED;
                goto done;
            }
            if (!retry_delay(&b, &failures, &fail_since, &ctl, &delay)) {
                res = BF_LOCKED;
                goto done;
            }
            if (!run_ctl_sleep(c->ctl, delay)) {
                res = BF_INTERRUPTED;
                goto done;
            }
            continue;
        }
        failures = 0;
        c->rows_done += covered;
        c->rows_updated += updated;
        run_rows += covered;
        report_progress(&b, started, run_rows, ctl.size, elapsed);
        chunk_observe(&ctl, covered > 0 ? covered : ctl.size, elapsed);
        if (finished) {
            res = BF_DONE;
            goto done;
        }
        if (abort_req) {
            res = BF_ABORT_REQUESTED;
            goto done;
        }
        if ((b.seen_paused || c->gate) && (res = before_batch(&b, &ctl)) != BF_DONE)
            goto done;
        res = BF_ERROR;
    }
done:
    if (res != BF_CONN_LOST) {
        sb_t sql;
        sb_init(&sql);
        if (b.prepared_first)
            sb_printf(&sql, "DEALLOCATE %s; ", b.name_first);
        if (b.prepared_next)
            sb_printf(&sql, "DEALLOCATE %s; ", b.name_next);
        if (b.prepared_write)
            sb_printf(&sql, "DEALLOCATE %s; ", b.name_write);
        if (b.prepared_cp)
            sb_printf(&sql, "DEALLOCATE %s; ", b.name_cp);
        sb_puts(&sql, "RESET convoy.backfill; RESET synchronous_commit; RESET lock_timeout; "
                      "RESET statement_timeout");
        pg_exec(c->pg, sql.data);
        sb_free(&sql);
    }
    strv_free(b.lo, b.lo ? b.k : 0);
    strv_free(b.up, b.up ? b.k : 0);
    strv_free(b.edge, b.edge ? b.k : 0);
    free(b.keys);
    free(b.order);
    return res;
}
