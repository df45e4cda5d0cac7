/*
 * metrics_render.c: a metrics snapshot -> the Prometheus text exposition format (pure: no
 * I/O, no clock). Every family is written whole (HELP, TYPE, then its samples), label values
 * are escaped, counters end in _total, durations are seconds.
 */
#include "convoy/fsm.h"
#include "convoy/metrics.h"
#include "convoy/util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const double metrics_batch_buckets[METRICS_N_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.2,
                                                         0.35,  0.5,  1,     2,    5,   10};

void
metrics_hist_observe(metrics_hist_t *h, double seconds)
{
    size_t i = 0;

    if (!(seconds >= 0)) /* NaN or negative: not a duration */
        return;
    while (i < METRICS_N_BUCKETS && seconds > metrics_batch_buckets[i])
        i++;
    h->counts[i]++;
    h->count++;
    h->sum_s += seconds;
}

const char *
metrics_hold_kind(const char *r)
{
    static const struct {
        const char *needle, *kind;
    } kinds[] = {
        /* most specific first */
        {"paused by request", "operator_pause"},
        {"flag file", "pause_file"},
        {"cannot reach Redis", "cache_redis"},
        {"cannot query the database", "agent_db_error"},
        {" unknown:", "agent_unknown"},
        {"is not in recovery", "replica_promoted"},
        {"error rate", "app_error_rate"},
        {"to replay step", "replay"},
        {"has not replayed a heartbeat", "lag_unmeasured"},
        {" lag ", "replica_lag"},
        {"who reads", "replica_readers"},
        {" query on ", "replica_readers"},
    };

    if (r == NULL || r[0] == '\0')
        return "none";
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strstr(r, kinds[i].needle))
            return kinds[i].kind;
    return "other";
}

/* ---- the text format ---------------------------------------------------------------- */

static void
family(sb_t *sb, const char *name, const char *type, const char *help)
{
    sb_printf(sb, "# HELP %s ", name);
    for (const char *p = help; *p; p++) {
        if (*p == '\\')
            sb_puts(sb, "\\\\");
        else if (*p == '\n')
            sb_puts(sb, "\\n");
        else
            sb_putc(sb, *p);
    }
    sb_printf(sb, "\n# TYPE %s %s\n", name, type);
}

static void
label_value(sb_t *sb, const char *v)
{
    for (const char *p = v ? v : ""; *p; p++) {
        if (*p == '\\')
            sb_puts(sb, "\\\\");
        else if (*p == '"')
            sb_puts(sb, "\\\"");
        else if (*p == '\n')
            sb_puts(sb, "\\n");
        else
            sb_putc(sb, *p);
    }
}

/*
 * One sample: name{k1="v1",k2="v2"} value. labels: NULL-terminated pairs (key, value).
 */
static void
sample_labels(sb_t *sb, const char *name, const char *const *labels)
{
    sb_puts(sb, name);
    if (labels && labels[0]) {
        sb_putc(sb, '{');
        for (size_t i = 0; labels[i]; i += 2) {
            if (i)
                sb_putc(sb, ',');
            sb_printf(sb, "%s=\"", labels[i]);
            label_value(sb, labels[i + 1]);
            sb_putc(sb, '"');
        }
        sb_putc(sb, '}');
    }
}

static void
sample_i(sb_t *sb, const char *name, const char *const *labels, int64_t v)
{
    sample_labels(sb, name, labels);
    sb_printf(sb, " %lld\n", (long long)v);
}

static void
sample_f(sb_t *sb, const char *name, const char *const *labels, double v)
{
    sample_labels(sb, name, labels);
    if (isnan(v))
        sb_puts(sb, " NaN\n");
    else if (isinf(v))
        sb_puts(sb, v > 0 ? " +Inf\n" : " -Inf\n");
    else
        sb_printf(sb, " %.9g\n", v);
}

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

static bool
fresh(const metrics_snapshot_t *s, const metrics_node_t *n)
{
    return n->age_s >= 0 && n->age_s <= s->fresh_s;
}

static void
render_migrations(sb_t *sb, const metrics_snapshot_t *s)
{
    const metrics_migration_t *m = s->migrations;
    const size_t n = s->n_migrations;

    family(sb, "convoy_migration_status", "gauge",
           "The migration's lifecycle status (1 for the current one; convoy fsm lists them).");
    for (size_t i = 0; i < n; i++)
        for (int st = 0; st < MIG_N_STATUS; st++) {
            const char *name = mig_status_name((mig_status_t)st);
            sample_i(sb, "convoy_migration_status", L("migration", m[i].name, "status", name),
                     m[i].status && strcmp(m[i].status, name) == 0);
        }
    family(sb, "convoy_migration_step", "gauge", "The step the migration is at (1-based).");
    for (size_t i = 0; i < n; i++)
        sample_i(sb, "convoy_migration_step", L("migration", m[i].name), m[i].current_step);
    family(sb, "convoy_migration_steps", "gauge", "The number of steps in the migration's plan.");
    for (size_t i = 0; i < n; i++)
        sample_i(sb, "convoy_migration_steps", L("migration", m[i].name), m[i].n_steps);
    family(sb, "convoy_migration_driven", "gauge",
           "1 while a driver (a coordinator or convoy apply) holds the migration's lease.");
    for (size_t i = 0; i < n; i++)
        sample_i(sb, "convoy_migration_driven", L("migration", m[i].name), m[i].driven);
    family(sb, "convoy_migration_held", "gauge",
           "1 while the driver holds (throttles) or the operator paused the migration.");
    for (size_t i = 0; i < n; i++)
        sample_i(sb, "convoy_migration_held", L("migration", m[i].name), m[i].hold_reason != NULL);
    family(sb, "convoy_migration_hold_reason", "gauge",
           "1 for the kind of the current hold (replica_lag, operator_pause, agent_unknown, "
           "replay, replica_readers, ...); the text is in convoy status.");
    for (size_t i = 0; i < n; i++)
        if (m[i].hold_reason)
            sample_i(sb, "convoy_migration_hold_reason",
                     L("migration", m[i].name, "reason", metrics_hold_kind(m[i].hold_reason)), 1);
    family(sb, "convoy_migration_held_seconds", "gauge", "How long the current hold has lasted.");
    for (size_t i = 0; i < n; i++)
        if (m[i].hold_reason && m[i].held_s >= 0)
            sample_f(sb, "convoy_migration_held_seconds", L("migration", m[i].name), m[i].held_s);
    family(sb, "convoy_replica_lag_limit_seconds", "gauge",
           "Backfill batches wait while the worst replica lags more (max_lag or convoy set).");
    for (size_t i = 0; i < n; i++)
        if (m[i].max_lag_s >= 0)
            sample_f(sb, "convoy_replica_lag_limit_seconds", L("migration", m[i].name),
                     m[i].max_lag_s);
    family(sb, "convoy_migration_worst_replica_lag_seconds", "gauge",
           "The worst replica lag the coordinator saw during the migration.");
    for (size_t i = 0; i < n; i++)
        if (m[i].worst_lag_s >= 0)
            sample_f(sb, "convoy_migration_worst_replica_lag_seconds", L("migration", m[i].name),
                     m[i].worst_lag_s);
    family(sb, "convoy_lock_waits_total", "counter",
           "Lock-taking statements whose lock_timeout expired and were retried (audit).");
    for (size_t i = 0; i < n; i++)
        sample_i(sb, "convoy_lock_waits_total", L("migration", m[i].name), m[i].lock_waits);
    family(sb, "convoy_holds_total", "counter", "Holds recorded in the audit log.");
    for (size_t i = 0; i < n; i++)
        sample_i(sb, "convoy_holds_total", L("migration", m[i].name), m[i].holds);
}

static void
render_steps(sb_t *sb, const metrics_snapshot_t *s)
{
    char step[16];

    family(sb, "convoy_step_attempts_total", "counter",
           "Times a step was started (more than 1: it was retried or resumed).");
    for (size_t i = 0; i < s->n_steps; i++) {
        const metrics_step_t *t = &s->steps[i];
        snprintf(step, sizeof(step), "%d", t->step);
        sample_i(sb, "convoy_step_attempts_total",
                 L("migration", t->migration, "step", step, "kind", t->kind), t->attempts);
    }
}

static void
render_backfill(sb_t *sb, const metrics_snapshot_t *s)
{
    static const struct {
        const char *name, *type, *help;
    } fam[] = {
        {"convoy_backfill_rows_total", "counter", "Rows the backfill has covered (checkpoint)."},
        {"convoy_backfill_rows_updated_total", "counter", "Rows the backfill has changed."},
        {"convoy_backfill_rows_expected", "gauge",
         "The planner's estimate of the rows the backfill covers."},
        {"convoy_backfill_batches_total", "counter", "Backfill batches committed."},
        {"convoy_backfill_batch_size_rows", "gauge", "The size of the next backfill batch."},
    };
    char step[16];

    for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
        family(sb, fam[f].name, fam[f].type, fam[f].help);
        for (size_t i = 0; i < s->n_backfills; i++) {
            const metrics_backfill_t *b = &s->backfills[i];
            const int64_t v[] = {b->rows_done, b->rows_updated, b->rows_total, b->batches,
                                 b->batch_size};
            if (v[f] < 0)
                continue;
            snprintf(step, sizeof(step), "%d", b->step);
            sample_i(sb, fam[f].name, L("migration", b->migration, "step", step), v[f]);
        }
    }
    family(sb, "convoy_backfill_batch_duration_seconds", "histogram",
           "Duration of each backfill batch this coordinator ran (since it started).");
    for (size_t i = 0; i < s->n_hists; i++) {
        const metrics_hist_t *h = &s->hists[i];
        uint64_t cum = 0;
        char le[32];
        for (size_t k = 0; k <= METRICS_N_BUCKETS; k++) {
            cum += h->counts[k];
            if (k < METRICS_N_BUCKETS)
                snprintf(le, sizeof(le), "%g", metrics_batch_buckets[k]);
            else
                snprintf(le, sizeof(le), "+Inf");
            sample_i(sb, "convoy_backfill_batch_duration_seconds_bucket",
                     L("migration", h->migration, "le", le), (int64_t)cum);
        }
        sample_f(sb, "convoy_backfill_batch_duration_seconds_sum", L("migration", h->migration),
                 h->sum_s);
        sample_i(sb, "convoy_backfill_batch_duration_seconds_count", L("migration", h->migration),
                 (int64_t)h->count);
    }
    family(sb, "convoy_backfill_batch_retries_total", "counter",
           "Backfill batches that hit a lock or statement timeout and were retried.");
    for (size_t i = 0; i < s->n_hists; i++)
        sample_i(sb, "convoy_backfill_batch_retries_total", L("migration", s->hists[i].migration),
                 (int64_t)s->hists[i].retries);
}

static void
render_gates(sb_t *sb, const metrics_snapshot_t *s)
{
    static const char *const states[] = {"pending", "open", "failed"};

    family(sb, "convoy_gate_state", "gauge",
           "The deploy gate's state (1 for the current one: pending, open, failed).");
    for (size_t i = 0; i < s->n_gates; i++)
        for (size_t k = 0; k < 3; k++)
            sample_i(
                sb, "convoy_gate_state",
                L("migration", s->gates[i].migration, "gate", s->gates[i].gate, "state", states[k]),
                s->gates[i].state && strcmp(s->gates[i].state, states[k]) == 0);
}

static void
render_fleet(sb_t *sb, const metrics_snapshot_t *s)
{
    const metrics_node_t *d = s->nodes;
    const size_t n = s->n_nodes;

    family(sb, "convoy_replica_lag_seconds", "gauge",
           "Replica lag measured by the coordinator's heartbeat (its own clock), per node.");
    for (size_t i = 0; i < n; i++)
        if (fresh(s, &d[i]) && d[i].lag_ms >= 0)
            sample_f(sb, "convoy_replica_lag_seconds",
                     L("cluster", d[i].cluster, "node", d[i].node), (double)d[i].lag_ms / 1000.0);
    family(sb, "convoy_replica_lag_bytes", "gauge",
           "WAL the replica has not replayed yet (primary's current LSN - replay LSN).");
    for (size_t i = 0; i < n; i++)
        if (fresh(s, &d[i]) && d[i].lag_bytes >= 0)
            sample_i(sb, "convoy_replica_lag_bytes", L("cluster", d[i].cluster, "node", d[i].node),
                     d[i].lag_bytes);
    family(sb, "convoy_agent_up", "gauge",
           "1 when the node's agent reports to the coordinator, 0 when it is silent, never "
           "connected or left (absent while no coordinator publishes the fleet view).");
    for (size_t i = 0; i < n; i++)
        if (fresh(s, &d[i]))
            sample_i(sb, "convoy_agent_up",
                     L("cluster", d[i].cluster, "node", d[i].node, "role", d[i].role),
                     d[i].state && strcmp(d[i].state, "unknown") != 0 &&
                         strcmp(d[i].state, "left") != 0);
    family(sb, "convoy_agent_healthy", "gauge",
           "1 when the node is ok (reporting, its database reachable, not lagging).");
    for (size_t i = 0; i < n; i++)
        if (fresh(s, &d[i]))
            sample_i(sb, "convoy_agent_healthy",
                     L("cluster", d[i].cluster, "node", d[i].node, "role", d[i].role),
                     d[i].state && strcmp(d[i].state, "ok") == 0);
    family(sb, "convoy_fleet_view_age_seconds", "gauge",
           "Age of the coordinator's last view of the node (it refreshes it while it runs).");
    for (size_t i = 0; i < n; i++)
        sample_f(sb, "convoy_fleet_view_age_seconds", L("cluster", d[i].cluster, "node", d[i].node),
                 d[i].age_s);
}

static void
render_cache(sb_t *sb, const metrics_snapshot_t *s)
{
    static const struct {
        const char *name, *type, *help;
    } fam[] = {
        {"convoy_cache_invalidations_total", "counter",
         "Invalidation rows queued in the outbox (one per batch, bump or purge)."},
        {"convoy_cache_invalidations_confirmed_total", "counter",
         "Invalidation rows a cache agent confirmed."},
        {"convoy_cache_invalidations_pending", "gauge", "Invalidation rows not confirmed yet."},
        {"convoy_cache_invalidation_keys_total", "counter",
         "Keys (or patterns) queued for invalidation."},
        {"convoy_cache_keys_removed_total", "counter", "Redis keys the cache agents removed."},
        {"convoy_cache_invalidation_attempts_total", "counter",
         "Attempts the cache agents made (failures are retried with backoff)."},
    };

    for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
        family(sb, fam[f].name, fam[f].type, fam[f].help);
        for (size_t i = 0; i < s->n_invals; i++) {
            const metrics_inval_t *c = &s->invals[i];
            const int64_t v[] = {c->rows, c->confirmed, c->pending,
                                 c->keys, c->removed,   c->attempts};
            sample_i(sb, fam[f].name, L("migration", c->migration, "kind", c->kind), v[f]);
        }
    }
}

char *
metrics_render(const metrics_snapshot_t *s)
{
    sb_t sb;

    sb_init(&sb);
    family(&sb, "convoy_build_info", "gauge", "The coordinator's version.");
    sample_i(&sb, "convoy_build_info", L("version", s->version ? s->version : "unknown"), 1);
    family(&sb, "convoy_state_up", "gauge",
           "1 when the coordinator could read the convoy state on the primary.");
    sample_i(&sb, "convoy_state_up", NULL, s->db_up);
    if (s->db_up) {
        render_migrations(&sb, s);
        render_steps(&sb, s);
        render_backfill(&sb, s);
        render_gates(&sb, s);
        render_fleet(&sb, s);
        render_cache(&sb, s);
    }
    return sb_steal(&sb);
}
