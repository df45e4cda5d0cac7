/*
 * metrics.c: the metrics' inputs. metrics_collect() reads the durable state on the primary
 * in one read-only snapshot (parameterized queries); metrics_observe() keeps the driver's
 * batch durations, which the database does not store. metrics_render.c turns both into text.
 */
#include "convoy/log.h"
#include "convoy/state.h"
#include "convoy/util.h"
#include "metrics_collect.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* the migrations the metrics cover: the most recently updated ones */
#define RECENT "WITH m AS (SELECT name FROM convoy.migrations ORDER BY updated_at DESC LIMIT 50) "

static const char migrations_sql[] =
    RECENT "SELECT g.name, g.status, g.current_step, g.n_steps, g.hold_reason, "
           "extract(epoch FROM now() - g.held_since)::float8, g.overrides->>'max-lag', "
           "g.worst_lag_ms, "
           /* the lease is held while the driver's session holds its advisory lock */
           "EXISTS (SELECT 1 FROM convoy.lease l JOIN pg_locks k ON k.locktype = 'advisory' AND "
           "k.classid = 1668247158 AND k.objid = l.lock_key AND k.objsubid = 2 AND k.granted "
           "WHERE l.migration = g.name), "
           "coalesce(a.lock_waits, 0), coalesce(a.holds, 0) "
           "FROM convoy.migrations g JOIN m ON m.name = g.name "
           "LEFT JOIN (SELECT migration, count(*) FILTER (WHERE action = 'lock_wait') AS "
           "lock_waits, count(*) FILTER (WHERE action = 'hold') AS holds FROM convoy.audit "
           "WHERE action IN ('lock_wait', 'hold') GROUP BY migration) a ON a.migration = g.name "
           "ORDER BY g.started_at, g.name";
static const char backfill_sql[] =
    RECENT "SELECT b.migration, b.step, b.rows_done, b.rows_updated, b.batches, "
           "coalesce(b.rows_total, -1), coalesce(b.batch_size, -1) FROM convoy.backfill b "
           "JOIN m ON m.name = b.migration ORDER BY b.migration, b.step";
static const char steps_sql[] =
    RECENT "SELECT s.migration, s.n, s.kind, s.status, s.attempts FROM convoy.steps s "
           "JOIN m ON m.name = s.migration ORDER BY s.migration, s.n";
static const char gates_sql[] =
    RECENT "SELECT g.migration, g.gate, g.state FROM convoy.gates g JOIN m ON m.name = g.migration "
           "ORDER BY g.migration, g.gate";
static const char fleet_sql[] =
    "SELECT cluster, node, role, state, coalesce(lag_ms, -1), coalesce(lag_bytes, -1), "
    "extract(epoch FROM now() - seen_at)::float8 FROM convoy.fleet "
    "WHERE $1::text IS NULL OR cluster = $1 ORDER BY cluster, node";
static const char inval_sql[] =
    RECENT "SELECT i.migration, i.kind, count(*), count(i.confirmed_at), "
           "count(*) - count(i.confirmed_at), coalesce(sum(cardinality(i.keys)), 0), "
           "coalesce(sum(i.removed), 0), coalesce(sum(i.attempts), 0) "
           "FROM convoy.invalidations i JOIN m ON m.name = i.migration "
           "GROUP BY i.migration, i.kind ORDER BY i.migration, i.kind";

enum { R_MIG, R_BF, R_STEPS, R_GATES, R_FLEET, R_INVAL, R_N };

static int64_t
cell_i(PGresult *r, int row, int col)
{
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static const char *
cell_s(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

bool
metrics_collect(
    pg_t *pg, const char *cluster, int64_t default_max_lag_ms, metrics_snapshot_t *out, char **err)
{
    static const char *const sql[R_N] = {migrations_sql, backfill_sql, steps_sql,
                                         gates_sql,      fleet_sql,    inval_sql};
    const char *p[1] = {cluster};
    PGresult *r[R_N] = {0};
    int n;

    memset(out, 0, sizeof(*out));
    out->fresh_s = 10;
    out->version = CONVOY_VERSION;
    if (!state_schema_exists(pg)) {
        out->db_up = true; /* no convoy schema yet: nothing to show */
        return true;
    }
    if (pg_exec(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") != PG_OK) {
        *err = xasprintf("reading the state: %s", pg_errmsg(pg));
        return false;
    }
    for (int i = 0; i < R_N; i++)
        if (pg_run(pg, sql[i], i == R_FLEET ? 1 : 0, i == R_FLEET ? p : NULL, &r[i]) != PG_OK) {
            *err = xasprintf("reading the state: %s", pg_errmsg(pg));
            pg_exec(pg, "ROLLBACK");
            for (int k = 0; k < R_N; k++)
                PQclear(r[k]);
            return false;
        }
    pg_exec(pg, "COMMIT");
    out->db_up = true;
    for (int i = 0; i < R_N; i++)
        out->results[i] = r[i];

    n = PQntuples(r[R_MIG]);
    out->migrations = xcalloc((size_t)n + 1, sizeof(*out->migrations));
    for (int i = 0; i < n; i++) {
        metrics_migration_t *m = &out->migrations[out->n_migrations++];
        const char *over = cell_s(r[R_MIG], i, 6);
        int64_t lag_ms = default_max_lag_ms;
        m->name = cell_s(r[R_MIG], i, 0);
        m->status = cell_s(r[R_MIG], i, 1);
        m->current_step = (int)cell_i(r[R_MIG], i, 2);
        m->n_steps = (int)cell_i(r[R_MIG], i, 3);
        m->hold_reason = cell_s(r[R_MIG], i, 4);
        m->held_s = cell_s(r[R_MIG], i, 5) ? strtod(cell_s(r[R_MIG], i, 5), NULL) : -1;
        if (over && !parse_duration_ms(over, &lag_ms))
            lag_ms = default_max_lag_ms;
        m->max_lag_s = lag_ms > 0 ? (double)lag_ms / 1000.0 : -1;
        m->worst_lag_s = cell_s(r[R_MIG], i, 7) ? (double)cell_i(r[R_MIG], i, 7) / 1000.0 : -1;
        m->driven = PQgetvalue(r[R_MIG], i, 8)[0] == 't';
        m->lock_waits = cell_i(r[R_MIG], i, 9);
        m->holds = cell_i(r[R_MIG], i, 10);
    }
    n = PQntuples(r[R_BF]);
    out->backfills = xcalloc((size_t)n + 1, sizeof(*out->backfills));
    for (int i = 0; i < n; i++) {
        metrics_backfill_t *b = &out->backfills[out->n_backfills++];
        b->migration = cell_s(r[R_BF], i, 0);
        b->step = (int)cell_i(r[R_BF], i, 1);
        b->rows_done = cell_i(r[R_BF], i, 2);
        b->rows_updated = cell_i(r[R_BF], i, 3);
        b->batches = cell_i(r[R_BF], i, 4);
        b->rows_total = cell_i(r[R_BF], i, 5);
        b->batch_size = cell_i(r[R_BF], i, 6);
    }
    n = PQntuples(r[R_STEPS]);
    out->steps = xcalloc((size_t)n + 1, sizeof(*out->steps));
    for (int i = 0; i < n; i++) {
        metrics_step_t *t = &out->steps[out->n_steps++];
        t->migration = cell_s(r[R_STEPS], i, 0);
        t->step = (int)cell_i(r[R_STEPS], i, 1);
        t->kind = cell_s(r[R_STEPS], i, 2);
        t->status = cell_s(r[R_STEPS], i, 3);
        t->attempts = cell_i(r[R_STEPS], i, 4);
    }
    n = PQntuples(r[R_GATES]);
    out->gates = xcalloc((size_t)n + 1, sizeof(*out->gates));
    for (int i = 0; i < n; i++) {
        metrics_gate_t *g = &out->gates[out->n_gates++];
        g->migration = cell_s(r[R_GATES], i, 0);
        g->gate = cell_s(r[R_GATES], i, 1);
        g->state = cell_s(r[R_GATES], i, 2);
    }
    n = PQntuples(r[R_FLEET]);
    out->nodes = xcalloc((size_t)n + 1, sizeof(*out->nodes));
    for (int i = 0; i < n; i++) {
        metrics_node_t *d = &out->nodes[out->n_nodes++];
        d->cluster = cell_s(r[R_FLEET], i, 0);
        d->node = cell_s(r[R_FLEET], i, 1);
        d->role = cell_s(r[R_FLEET], i, 2);
        d->state = cell_s(r[R_FLEET], i, 3);
        d->lag_ms = cell_i(r[R_FLEET], i, 4);
        d->lag_bytes = cell_i(r[R_FLEET], i, 5);
        d->age_s = strtod(PQgetvalue(r[R_FLEET], i, 6), NULL);
    }
    n = PQntuples(r[R_INVAL]);
    out->invals = xcalloc((size_t)n + 1, sizeof(*out->invals));
    for (int i = 0; i < n; i++) {
        metrics_inval_t *c = &out->invals[out->n_invals++];
        c->migration = cell_s(r[R_INVAL], i, 0);
        c->kind = cell_s(r[R_INVAL], i, 1);
        c->rows = cell_i(r[R_INVAL], i, 2);
        c->confirmed = cell_i(r[R_INVAL], i, 3);
        c->pending = cell_i(r[R_INVAL], i, 4);
        c->keys = cell_i(r[R_INVAL], i, 5);
        c->removed = cell_i(r[R_INVAL], i, 6);
        c->attempts = cell_i(r[R_INVAL], i, 7);
    }
    out->hists = metrics_hist_copy(&out->n_hists);
    return true;
}

void
metrics_snapshot_free(metrics_snapshot_t *s)
{
    for (size_t i = 0; i < sizeof(s->results) / sizeof(s->results[0]); i++)
        PQclear(s->results[i]);
    free(s->migrations);
    free(s->backfills);
    free(s->steps);
    free(s->gates);
    free(s->nodes);
    free(s->invals);
    free(s->hists);
    memset(s, 0, sizeof(*s));
}

/* ---- the driver's batches ------------------------------------------------------------ */

#define MAX_HISTS 32 /* the migrations with the most recent batches */

static pthread_mutex_t hist_mu = PTHREAD_MUTEX_INITIALIZER;
static metrics_hist_t hists[MAX_HISTS];
static uint64_t hist_used[MAX_HISTS]; /* 0: free; else the last use (a counter) */
static uint64_t hist_clock;

/* The migration's histogram, created (or recycled: the least recently used) when missing. */
static metrics_hist_t *
hist_for(const char *migration)
{
    size_t oldest = 0;

    for (size_t i = 0; i < MAX_HISTS; i++) {
        if (hist_used[i] && strcmp(hists[i].migration, migration) == 0) {
            hist_used[i] = ++hist_clock;
            return &hists[i];
        }
        if (hist_used[i] < hist_used[oldest])
            oldest = i;
    }
    memset(&hists[oldest], 0, sizeof(hists[oldest]));
    snprintf(hists[oldest].migration, sizeof(hists[oldest].migration), "%s", migration);
    hist_used[oldest] = ++hist_clock;
    return &hists[oldest];
}

void
metrics_observe(const engine_event_t *e)
{
    bool batch = e->kind == EVT_PROGRESS && e->batch_ms >= 0;
    /* backfill.c's retry line; lock waits of DDL steps are counted from the audit log */
    bool retry = e->kind == EVT_WAIT && e->text && strstr(e->text, "batch hit a lock");

    if (e->migration == NULL || (!batch && !retry))
        return;
    pthread_mutex_lock(&hist_mu);
    {
        metrics_hist_t *h = hist_for(e->migration);
        if (batch)
            metrics_hist_observe(h, (double)e->batch_ms / 1000.0);
        else
            h->retries++;
    }
    pthread_mutex_unlock(&hist_mu);
}

static int
by_migration(const void *a, const void *b)
{
    return strcmp(((const metrics_hist_t *)a)->migration, ((const metrics_hist_t *)b)->migration);
}

metrics_hist_t *
metrics_hist_copy(size_t *n)
{
    metrics_hist_t *out = xcalloc(MAX_HISTS, sizeof(*out));

    *n = 0;
    pthread_mutex_lock(&hist_mu);
    for (size_t i = 0; i < MAX_HISTS; i++)
        if (hist_used[i])
            out[(*n)++] = hists[i];
    pthread_mutex_unlock(&hist_mu);
    qsort(out, *n, sizeof(*out), by_migration);
    return out;
}
