/*
 * service.c: `convoy coordinator`. Two threads:
 *   - the fleet loop (this file's main loop): the ROUTER socket and its ZAP handler, the
 *     agents' reports, heartbeats out, the heartbeat row on the primary, LISTEN convoy,
 *     the fleet view for `convoy status`, and picking up submitted migrations;
 *   - the driver: engine_apply() for one migration at a time, exactly as the CLI runs it,
 *     with a gate that answers from the fleet loop's view (control/throttle.c decides).
 * They share `fleet` under one mutex; the driver never touches a socket.
 */
#include "convoy/service.h"

#include "convoy/cluster.h"
#include "convoy/engine.h"
#include "convoy/exit.h"
#include "convoy/gates.h"
#include "convoy/http.h"
#include "convoy/log.h"
#include "convoy/metrics.h"
#include "convoy/pg.h"
#include "convoy/report.h"
#include "convoy/throttle.h"
#include "convoy/transport.h"
#include "convoy/util.h"
#include "convoy/verify.h"

#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define PICK_INTERVAL_MS      1000
#define VIEW_INTERVAL_MS      500
#define IDLE_VIEW_INTERVAL_MS 1000

typedef struct {
    char name[64];
    bool replica;
    bool cache;
    bool app;
    double error_rate;
    char app_version[65];
    bool redis_ok;
    char redis_error[200];
    char identity[256];
    size_t identity_len;
    int64_t last_seen_ms; /* -1: never */
    bool hello;
    bool left; /* it said goodbye (a clean stop) and has not said HELLO since */
    /* the primary's pg_stat_database counters: the last sample a rate was taken from, and the
     * rates over about the last second (-1: not known yet) */
    uint64_t db_rollbacks, db_deadlocks;
    int64_t db_sample_ms;
    double rollback_rate, deadlock_rate;
    /* the last REPORT */
    bool reported;
    bool db_ok;
    char db_error[200];
    bool in_recovery, replay_paused;
    uint64_t replay_lsn;
    int64_t hb_seq;
    /* the readers question (replicas) */
    uint64_t readers_cmd;
    int64_t readers_at_ms; /* when the answer came */
    int n_readers;
    int oldest_pid;
    double oldest_age;
    int64_t last_bad_log_ms;
} node_t;

typedef struct {
    cluster_t cl;
    char id[160];
    char *actor;
    bool insecure;
    curve_keys_t keys;
    void *zctx, *router;
    zap_t zap;
    zap_entry_t *allow;
    pg_t *pg;         /* the fleet loop's connection to the primary */
    http_srv_t *http; /* the gate API; NULL when not configured or not (yet) bound */
    char *http_token;
    int64_t http_retry_ms;
    int64_t pg_retry_ms;
    uint64_t seq;
    uint64_t next_cmd;
    uint64_t primary_lsn;

    pthread_mutex_t mu; /* guards everything below */
    node_t *nodes;
    size_t n_nodes;
    hb_ring_t ring;
    bool driving;
    char migration[128];
    int64_t max_lag_ms;      /* live: the config's, or `convoy set max-lag` */
    int64_t batch_target_ms; /* `convoy set batch-target`; 0: the plan's */
    char watch[256];         /* the table an ACCESS EXCLUSIVE step waits on; "" none */
    int64_t watch_since_ms;

    /* the driver */
    pthread_t worker;
    bool worker_running;
    volatile sig_atomic_t worker_done;
    run_ctl_t ctl;
    engine_gate_t gate;
    char *pick_name, *pick_source, *pick_file;
    int64_t next_pick_ms;
    bool last_busy;
    int64_t view_warned_ms; /* the last warning about writing the fleet view */
} service_t;

static volatile sig_atomic_t stop_requested;
static service_t *the_service;

static void
on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
    if (the_service)
        run_ctl_stop(&the_service->ctl);
}

static const char *
sec_tag(const service_t *sv)
{
    return sv->insecure ? " [INSECURE: no CURVE]" : "";
}

static node_t *
node_by_name(service_t *sv, const char *name)
{
    for (size_t i = 0; i < sv->n_nodes; i++)
        if (strcmp(sv->nodes[i].name, name) == 0)
            return &sv->nodes[i];
    return NULL;
}

/* ---- the gate (driver thread) ------------------------------------------------------ */

static const char *
exclusive_table(const step_t *s)
{
    for (int k = 0; s && k < s->n_locks; k++)
        if (s->locks[k].mode == LOCK_ACCESS_EXCLUSIVE)
            return s->locks[k].table;
    return NULL;
}

static gate_verdict_t
decide(service_t *sv, gate_query_t *q, char *why, size_t why_len, int64_t *delay_ms);

/*
 * The engine's question. Near the lag limit a GO comes with a pacing delay: sleep it, then
 * decide again, so a batch never starts on a lag measured before the pause (it may have
 * crossed the limit meanwhile).
 */
static gate_verdict_t
gate_ask(void *ud, gate_query_t *q, char *why, size_t why_len)
{
    service_t *sv = ud;
    int64_t delay = 0;
    gate_verdict_t v = decide(sv, q, why, why_len, &delay);

    if (v == GATE_GO && delay > 0) {
        run_ctl_sleep(&sv->ctl, delay);
        v = decide(sv, q, why, why_len, &delay);
    }
    return v;
}

static gate_verdict_t
decide(service_t *sv, gate_query_t *q, char *why, size_t why_len, int64_t *delay_ms)
{
    throttle_query_t tq = {0};
    throttle_limits_t lim = {0};
    throttle_out_t out;
    node_view_t *views;
    size_t n_views;
    const char *table = q->point == GATE_BEFORE_STEP ? exclusive_table(q->s) : NULL;
    int64_t now = now_mono_ms();

    tq.point = q->point;
    tq.exclusive = table != NULL;
    tq.table = table;
    tq.step = q->step;
    tq.held_ms = q->held_ms;
    if (q->point == GATE_AFTER_STEP && !wire_lsn_parse(q->lsn, &tq.lsn)) {
        snprintf(why, why_len, "cannot read the step's WAL position `%s`", q->lsn);
        return GATE_HOLD;
    }
    pthread_mutex_lock(&sv->mu);
    if (table && strcmp(sv->watch, table) != 0) {
        snprintf(sv->watch, sizeof(sv->watch), "%s", table);
        sv->watch_since_ms = now;
    } else if (!table && q->point == GATE_BEFORE_STEP) {
        sv->watch[0] = '\0';
    }
    views = xcalloc(sv->n_nodes ? sv->n_nodes : 1, sizeof(*views));
    n_views = 0;
    for (size_t i = 0; i < sv->n_nodes; i++) {
        node_t *n = &sv->nodes[i];
        node_view_t *v = &views[n_views];
        /* an app node whose agent stopped cleanly is no longer part of the application (a
         * blue that left); every other silent node still holds everything (fail closed) */
        if (n->app && n->left)
            continue;
        n_views++;
        v->name = n->name;
        v->replica = n->replica;
        v->cache = n->cache;
        v->app = n->app;
        v->error_rate = n->error_rate;
        v->redis_ok = n->redis_ok;
        v->redis_error = n->redis_error;
        v->silent_ms = n->last_seen_ms < 0 ? -1 : now - n->last_seen_ms;
        v->db_ok = n->reported && n->db_ok;
        v->db_error = n->reported ? n->db_error : "no report yet";
        v->in_recovery = n->in_recovery;
        v->replay_paused = n->replay_paused;
        v->lag_ms = hb_ring_lag_ms(&sv->ring, n->hb_seq, now);
        v->replay_lsn = n->replay_lsn;
        v->readers_known = table && n->readers_at_ms >= sv->watch_since_ms && n->readers_at_ms > 0;
        v->n_readers = n->n_readers;
        v->oldest_reader_pid = n->oldest_pid;
        v->oldest_reader_age_s = n->oldest_age;
        v->rollback_rate = n->db_sample_ms > 0 ? n->rollback_rate : -1;
        v->deadlock_rate = n->db_sample_ms > 0 ? n->deadlock_rate : -1;
    }
    lim.heartbeat_ms = sv->cl.heartbeat_ms;
    lim.max_lag_ms = sv->max_lag_ms;
    lim.replay_timeout_ms = sv->cl.replay_timeout_ms;
    lim.reader_hold_ms = sv->cl.reader_hold_ms;
    lim.error_rate_limit = sv->cl.error_rate_limit;
    lim.health_grace_ms = sv->cl.health_grace_ms;
    lim.rollback_rate_limit = sv->cl.rollback_rate_limit;
    lim.deadlock_rate_limit = sv->cl.deadlock_rate_limit;
    lim.health_abort = sv->cl.health_abort;
    lim.flag_file =
        sv->cl.pause_file && access(sv->cl.pause_file, F_OK) == 0 ? sv->cl.pause_file : NULL;
    throttle_decide(views, n_views, &lim, &tq, &out);
    if (q->point == GATE_BEFORE_BATCH && sv->batch_target_ms > 0)
        q->target_ms = sv->batch_target_ms;
    if (out.verdict == GATE_GO && table)
        sv->watch[0] = '\0'; /* asked and answered: no reader holds it up */
    pthread_mutex_unlock(&sv->mu);
    free(views);
    if (out.verdict != GATE_GO) {
        snprintf(why, why_len, "%s", out.why);
        return out.verdict;
    }
    *delay_ms = out.delay_ms;
    return GATE_GO;
}

/* ---- the driver thread ------------------------------------------------------------- */

static void
on_engine_event(void *ud, const engine_event_t *e)
{
    service_t *sv = ud;
    static int64_t last_progress;

    metrics_observe(e); /* batch durations and retries, for /metrics */
    switch (e->kind) {
    case EVT_INFO:
    case EVT_WAIT:
        log_info("%s%s", e->text, sec_tag(sv));
        break;
    case EVT_NOTE:
        log_warn("%s: line %d: %s", e->note_kind, e->note->line, e->note->message);
        break;
    case EVT_STEP_BEGIN:
        log_info("[%d/%d] %s", e->step, e->n_steps, e->text);
        break;
    case EVT_STEP_END:
        log_info("step %d %s%s%s", e->step, e->outcome, e->text ? ": " : "",
                 e->text ? e->text : "");
        break;
    case EVT_HOLD:
        /* hold.c logs each new reason; nothing more per poll */
        break;
    case EVT_PROGRESS:
        if (now_mono_ms() - last_progress >= 2000) {
            last_progress = now_mono_ms();
            log_info("backfill %.1f%% %lld rows updated %.0f rows/s%s", e->pct,
                     (long long)e->updated, e->rate, sec_tag(sv));
        }
        break;
    }
}

/* The migration is done: verify it on the primary and every replica (the expand gate waits). */
static void
verify_done(service_t *sv, const char *name)
{
    verify_req_t req = {0};
    const char **names = xcalloc(sv->cl.n_nodes + 1, sizeof(char *));
    const char **conns = xcalloc(sv->cl.n_nodes + 1, sizeof(char *));
    bool passed = false;
    json_t *checks = NULL;
    char *err = NULL;

    for (size_t i = 0; i < sv->cl.n_nodes; i++)
        if (sv->cl.nodes[i].replica) {
            names[req.n_replicas] = sv->cl.nodes[i].name;
            conns[req.n_replicas++] = sv->cl.nodes[i].conninfo;
        }
    req.conninfo = cluster_primary(&sv->cl)->conninfo;
    req.name = name;
    req.actor = sv->actor;
    req.replica_names = names;
    req.replica_conninfos = conns;
    if (!engine_verify(&req, &passed, &checks, &err)) {
        log_error("verifying %s: %s", name, err ? err : "failed");
    } else {
        size_t i;
        json_t *c;
        json_array_foreach(checks, i, c) if (!json_is_true(json_object_get(c, "ok")))
            log_warn("verify %s: %s %s: %s", name, json_string_value(json_object_get(c, "node")),
                     json_string_value(json_object_get(c, "check")),
                     json_string_value(json_object_get(c, "detail")));
        log_info("verification of %s %s", name, passed ? "passed" : "FAILED");
    }
    json_decref(checks);
    free(err);
    free(names);
    free(conns);
}

static void *
driver_main(void *arg)
{
    service_t *sv = arg;
    migration_t m;
    parse_error_t perr = {0};
    engine_outcome_t out = {0};
    engine_events_t ev = {on_engine_event, sv};
    apply_req_t req = {0};
    const cluster_node_t *primary = cluster_primary(&sv->cl);

    log_set_context("migration=%s", sv->pick_name);
    if (!migration_parse(sv->pick_file ? sv->pick_file : sv->pick_name, sv->pick_source, &m,
                         &perr)) {
        log_error("the stored source of %s does not parse: line %d: %s", sv->pick_name, perr.line,
                  perr.message);
        sv->worker_done = 1;
        return NULL;
    }
    req.conninfo = primary->conninfo;
    req.file = sv->pick_file ? sv->pick_file : sv->pick_name;
    req.m = &m;
    req.actor = sv->actor;
    req.gate = &sv->gate;
    engine_apply(&req, &sv->ctl, &ev, &out);
    if (out.result == RES_DONE)
        verify_done(sv, sv->pick_name);
    if (out.result == RES_BUSY) {
        if (!sv->last_busy)
            log_info("%s: %s; standing by", sv->pick_name, out.message ? out.message : "busy");
        sv->last_busy = true;
    } else {
        sv->last_busy = false;
        log_info("%s: %s (status %s)%s%s", sv->pick_name, engine_result_name(out.result),
                 out.status ? out.status : "?", out.message ? ": " : "",
                 out.message ? out.message : "");
    }
    if (out.result != RES_BUSY && out.result != RES_NOOP && out.result != RES_INVALID) {
        /* the end-of-run report, in reports/ beside the cluster config */
        char *dir = cluster_path(&sv->cl, "reports"), *md = NULL, *err = NULL;
        pg_t *pg = pg_connect(primary->conninfo, &err);
        mkdir(dir, 0755);
        if (pg && report_write(pg, sv->pick_name, dir, &md, &err))
            log_info("report: %s (and .json)", md);
        else
            log_warn("writing the report of %s: %s", sv->pick_name, err ? err : "?");
        free(md);
        free(err);
        free(dir);
        pg_close(&pg);
    }
    engine_outcome_free(&out);
    migration_free(&m);
    pthread_mutex_lock(&sv->mu);
    sv->driving = false;
    sv->watch[0] = '\0';
    pthread_mutex_unlock(&sv->mu);
    sv->worker_done = 1;
    return NULL;
}

/* ---- the primary: heartbeat row, LISTEN, fleet view, pick-up (fleet loop) ---------- */

static bool
primary_connect(service_t *sv)
{
    const cluster_node_t *primary = cluster_primary(&sv->cl);
    char *err = NULL;

    if (sv->pg)
        return true;
    if (now_mono_ms() < sv->pg_retry_ms)
        return false;
    sv->pg = pg_connect(primary->conninfo, &err);
    if (sv->pg == NULL || pg_exec(sv->pg, "LISTEN convoy") != PG_OK) {
        log_warn("cannot reach the primary %s: %s; retrying (nothing proceeds meanwhile)",
                 primary->name, err ? err : pg_errmsg(sv->pg));
        free(err);
        pg_close(&sv->pg);
        sv->pg_retry_ms = now_mono_ms() + 1000;
        return false;
    }
    return true;
}

static void
primary_lost(service_t *sv)
{
    log_warn("lost the primary connection: %s", pg_errmsg(sv->pg));
    pg_close(&sv->pg);
    sv->pg_retry_ms = now_mono_ms() + 500;
}

static void
write_heartbeat(service_t *sv)
{
    PGresult *r = NULL;
    int64_t at = now_mono_ms(); /* before the write: a lag is never under-stated */

    if (!primary_connect(sv))
        return;
    if (pg_run(sv->pg,
               "INSERT INTO convoy.heartbeat (id, seq) VALUES (1, 1) ON CONFLICT (id) DO UPDATE "
               "SET seq = convoy.heartbeat.seq + 1, written_at = clock_timestamp() "
               "RETURNING seq, pg_current_wal_lsn()::text",
               0, NULL, &r) != PG_OK) {
        if (pg_classify(pg_sqlstate(sv->pg)) == PG_CONN_LOST)
            primary_lost(sv);
        else
            log_warn("writing the heartbeat row: %s", pg_errmsg(sv->pg));
        PQclear(r);
        return;
    }
    pthread_mutex_lock(&sv->mu);
    hb_ring_push(&sv->ring, strtoll(PQgetvalue(r, 0, 0), NULL, 10), at);
    wire_lsn_parse(PQgetvalue(r, 0, 1), &sv->primary_lsn);
    pthread_mutex_unlock(&sv->mu);
    PQclear(r);
}

static void
load_overrides(service_t *sv)
{
    const char *p[1] = {sv->migration};
    PGresult *r = NULL;
    int64_t lag = sv->cl.max_lag_ms, target = 0;

    if (!sv->migration[0] || !primary_connect(sv))
        return;
    if (pg_run(sv->pg,
               "SELECT overrides->>'max-lag', overrides->>'batch-target' FROM convoy.migrations "
               "WHERE name = $1",
               1, p, &r) == PG_OK &&
        PQntuples(r) == 1) {
        int64_t v;
        if (!PQgetisnull(r, 0, 0) && parse_duration_ms(PQgetvalue(r, 0, 0), &v) && v > 0)
            lag = v;
        if (!PQgetisnull(r, 0, 1) && parse_duration_ms(PQgetvalue(r, 0, 1), &v) && v > 0)
            target = v;
    }
    PQclear(r);
    pthread_mutex_lock(&sv->mu);
    if (lag != sv->max_lag_ms || target != sv->batch_target_ms)
        log_info("live settings: max-lag %lld ms, batch-target %s%lld%s", (long long)lag,
                 target ? "" : "(the plan's) ", (long long)target, target ? " ms" : "");
    sv->max_lag_ms = lag;
    sv->batch_target_ms = target;
    pthread_mutex_unlock(&sv->mu);
}

/*
 * Notifications arrive on the socket, or with the result of any other query on this
 * connection (the heartbeat), which libpq queues: look at the queue on every round.
 */
static void
drain_notifies(service_t *sv, bool readable)
{
    PGnotify *n;
    bool any = false;

    if (!sv->pg)
        return;
    if (readable && !PQconsumeInput(sv->pg->conn)) {
        primary_lost(sv);
        return;
    }
    while ((n = PQnotifies(sv->pg->conn)) != NULL) {
        log_debug("notify: %s", n->extra);
        any = true;
        PQfreemem(n);
    }
    if (any) {
        load_overrides(sv);
        sv->next_pick_ms = 0; /* a submission or a request: look now */
    }
}

static void
start_driver(service_t *sv, const char *name, const char *source, const char *file)
{
    free(sv->pick_name);
    free(sv->pick_source);
    free(sv->pick_file);
    sv->pick_name = xstrdup(name);
    sv->pick_source = xstrdup(source);
    sv->pick_file = file ? xstrdup(file) : NULL;
    pthread_mutex_lock(&sv->mu);
    snprintf(sv->migration, sizeof(sv->migration), "%s", name);
    sv->driving = true;
    hb_ring_reset(&sv->ring); /* lag is measured from this run's heartbeats only */
    pthread_mutex_unlock(&sv->mu);
    load_overrides(sv);
    sv->worker_done = 0;
    sv->ctl.stop = 0;
    if (pthread_create(&sv->worker, NULL, driver_main, sv) != 0) {
        log_error("cannot start the driver thread");
        sv->driving = false;
        return;
    }
    sv->worker_running = true;
}

/* The gates of this cluster's finished migrations that are not open yet. */
static void
evaluate_gates(service_t *sv)
{
    const char *p[1] = {sv->cl.name};
    PGresult *r = NULL;

    if (!sv->pg || pg_run(sv->pg,
                          "SELECT m.name FROM convoy.migrations m WHERE m.cluster = $1 AND "
                          "m.status IN ('done', 'failed', 'aborted', 'blocked') AND NOT EXISTS "
                          "(SELECT 1 FROM convoy.gates g WHERE g.migration = m.name AND g.gate = "
                          "'expand' AND g.state = 'open') ORDER BY m.started_at DESC LIMIT 20",
                          1, p, &r) != PG_OK) {
        PQclear(r);
        return;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        dgate_state_t st;
        json_t *reasons = NULL;
        if (gates_evaluate(sv->pg, PQgetvalue(r, i, 0), "expand", &st, &reasons) && st == DG_OPEN)
            log_info("%s: the expand gate is open", PQgetvalue(r, i, 0));
        json_decref(reasons);
    }
    PQclear(r);
}

/* The oldest migration of this cluster that a driver should be running. */
static void
pick_up(service_t *sv)
{
    const char *p[1] = {sv->cl.name};
    PGresult *r = NULL;

    sv->next_pick_ms = now_mono_ms() + PICK_INTERVAL_MS;
    if (sv->worker_running || stop_requested || !primary_connect(sv))
        return;
    if (pg_run(
            sv->pg,
            "SELECT name, source, file FROM convoy.migrations WHERE cluster = $1 AND source IS "
            "NOT NULL AND status IN ('submitted', 'running', 'paused', 'waiting', 'interrupted', "
            "'aborting') ORDER BY started_at, name LIMIT 1",
            1, p, &r) != PG_OK) {
        if (pg_classify(pg_sqlstate(sv->pg)) == PG_CONN_LOST)
            primary_lost(sv);
        else if (strcmp(pg_sqlstate(sv->pg), "42P01") != 0) /* no convoy schema yet */
            log_warn("looking for submitted migrations: %s", pg_errmsg(sv->pg));
        PQclear(r);
        return;
    }
    if (PQntuples(r) == 1)
        start_driver(sv, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1),
                     PQgetisnull(r, 0, 2) ? NULL : PQgetvalue(r, 0, 2));
    PQclear(r);
    evaluate_gates(sv);
}

/* What this coordinator sees of every node, for `convoy status` and the contract gate. */
typedef struct {
    char node[64], role[8], state[16], lag[24], bytes[24], lsn[24], detail[320], version[65];
} view_row_t;

static void
write_fleet_view(service_t *sv)
{
    int64_t now = now_mono_ms();
    view_row_t *rows;
    size_t n_rows;

    if (!primary_connect(sv))
        return;
    pthread_mutex_lock(&sv->mu);
    n_rows = sv->n_nodes;
    rows = xcalloc(n_rows ? n_rows : 1, sizeof(*rows));
    for (size_t i = 0; i < n_rows; i++) {
        node_t *n = &sv->nodes[i];
        view_row_t *w = &rows[i];
        int64_t l = hb_ring_lag_ms(&sv->ring, n->hb_seq, now);
        int64_t silent = n->last_seen_ms < 0 ? -1 : now - n->last_seen_ms;
        bool unknown = silent < 0 || silent > 3 * sv->cl.heartbeat_ms;

        snprintf(w->node, sizeof(w->node), "%s", n->name);
        snprintf(w->role, sizeof(w->role), "%s",
                 n->replica ? "replica"
                 : n->cache ? "cache"
                 : n->app   ? "app"
                            : "primary");
        snprintf(w->state, sizeof(w->state), "%s",
                 n->left                            ? "left"
                 : unknown                          ? "unknown"
                 : !n->db_ok                        ? "db-error"
                 : n->replica && l < 0              ? "measuring"
                 : n->replica && l > sv->max_lag_ms ? "lagging"
                                                    : "ok");
        if (n->replica && l >= 0)
            snprintf(w->lag, sizeof(w->lag), "%lld", (long long)l);
        if (n->app && n->reported)
            snprintf(w->version, sizeof(w->version), "%s", n->app_version);
        if (n->replica && n->replay_lsn) {
            wire_lsn_format(n->replay_lsn, w->lsn, sizeof(w->lsn));
            if (sv->primary_lsn >= n->replay_lsn)
                snprintf(w->bytes, sizeof(w->bytes), "%llu",
                         (unsigned long long)(sv->primary_lsn - n->replay_lsn));
        }
        snprintf(w->detail, sizeof(w->detail), "%s%s%s%s%s",
                 silent < 0 ? "never connected"
                 : unknown  ? "silent"
                            : "reporting",
                 n->replay_paused ? ", replay paused" : "", n->reported && !n->db_ok ? ": " : "",
                 n->reported && !n->db_ok ? n->db_error : "", sec_tag(sv));
    }
    pthread_mutex_unlock(&sv->mu);
    {
        /* the worst lag of this run, for the report */
        int64_t worst = -1;
        for (size_t i = 0; i < n_rows; i++)
            if (rows[i].lag[0] && strtoll(rows[i].lag, NULL, 10) > worst)
                worst = strtoll(rows[i].lag, NULL, 10);
        if (worst >= 0 && sv->driving && sv->migration[0]) {
            char w[32];
            const char *p[2] = {sv->migration, w};
            snprintf(w, sizeof(w), "%lld", (long long)worst);
            pg_run(sv->pg,
                   "UPDATE convoy.migrations SET worst_lag_ms = greatest(coalesce(worst_lag_ms, "
                   "0), $2::bigint) WHERE name = $1",
                   2, p, NULL);
        }
    }
    for (size_t i = 0; i < n_rows && sv->pg; i++) {
        view_row_t *w = &rows[i];
        const char *p[10] = {sv->cl.name,
                             w->node,
                             w->role,
                             w->state,
                             w->lag[0] ? w->lag : NULL,
                             w->bytes[0] ? w->bytes : NULL,
                             w->lsn[0] ? w->lsn : NULL,
                             w->detail,
                             sv->id,
                             w->version[0] ? w->version : NULL};
        /* version_since: when this node began to report the version it reports now (the
         * contract gate counts from it) */
        if (pg_run(sv->pg,
                   "INSERT INTO convoy.fleet AS f (cluster, node, role, state, lag_ms, lag_bytes, "
                   "replay_lsn, detail, coordinator, seen_at, app_version, version_since) VALUES "
                   "($1, $2, $3, $4, $5::bigint, $6::bigint, $7::pg_lsn, $8, $9, now(), $10::text, "
                   "CASE WHEN $10::text IS NOT NULL THEN now() END) ON CONFLICT (cluster, node) DO "
                   "UPDATE SET role = EXCLUDED.role, state = EXCLUDED.state, lag_ms = "
                   "EXCLUDED.lag_ms, lag_bytes = EXCLUDED.lag_bytes, replay_lsn = "
                   "EXCLUDED.replay_lsn, detail = EXCLUDED.detail, coordinator = "
                   "EXCLUDED.coordinator, seen_at = now(), app_version = EXCLUDED.app_version, "
                   "version_since = CASE WHEN EXCLUDED.app_version IS NULL THEN NULL WHEN "
                   "f.app_version IS NOT DISTINCT FROM EXCLUDED.app_version AND f.state NOT IN "
                   "('left', 'unknown') THEN f.version_since ELSE now() END",
                   10, p, NULL) != PG_OK) {
            if (pg_classify(pg_sqlstate(sv->pg)) == PG_CONN_LOST)
                primary_lost(sv);
            else if (strcmp(pg_sqlstate(sv->pg), "42P01") == 0 || now - sv->view_warned_ms < 10000)
                log_debug("writing the fleet view: %s", pg_errmsg(sv->pg)); /* no schema yet */
            else {
                log_warn("writing the fleet view: %s", pg_errmsg(sv->pg));
                sv->view_warned_ms = now;
            }
            break;
        }
    }
    free(rows);
}

/* ---- frames from agents (fleet loop) ---------------------------------------------- */

static void
send_msg(service_t *sv, const char *identity, size_t len, wire_msg_t *m)
{
    if (!transport_send(sv->router, identity, len, m))
        log_debug("could not queue a %s frame", wire_type_name(m->type));
}

static void
reply_error(service_t *sv,
            const transport_frame_t *f,
            uint32_t code,
            const char *text,
            uint64_t in_reply_to)
{
    wire_msg_t m;
    Convoy__Wire__Error e = CONVOY__WIRE__ERROR__INIT;

    wire_init(&m, CONVOY__WIRE__MSG_TYPE__ERROR, sv->id, ++sv->seq, NULL);
    e.code = code;
    e.message = (char *)text;
    e.in_reply_to = in_reply_to;
    m.error = &e;
    send_msg(sv, f->identity, f->identity_len, &m);
}

static void
bad_frame(const transport_frame_t *f, node_t *n, const char *what)
{
    int64_t now = now_mono_ms();
    static int64_t last_anon;
    int64_t *last = n ? &n->last_bad_log_ms : &last_anon;

    if (now - *last >= 1000) { /* a peer that floods garbage does not flood the log */
        log_warn("refused a frame from %s: %s",
                 n ? n->name
                   : (f->user_id[0] ? f->user_id
                                    : "an "
                                      "unknown peer"),
                 what);
        *last = now;
    }
}

/* The primary's rollback and deadlock rates, from samples at least a second apart. */
static void
db_rates(node_t *n, const Convoy__Wire__Report *r)
{
    int64_t now = now_mono_ms(), dt = now - n->db_sample_ms;

    if (n->db_sample_ms > 0 && dt < 1000)
        return;
    if (n->db_sample_ms > 0 && r->xact_rollback >= n->db_rollbacks &&
        r->deadlocks >= n->db_deadlocks) {
        n->rollback_rate = (double)(r->xact_rollback - n->db_rollbacks) * 1000.0 / (double)dt;
        n->deadlock_rate = (double)(r->deadlocks - n->db_deadlocks) * 1000.0 / (double)dt;
    } else {
        n->rollback_rate = n->deadlock_rate = -1; /* the first sample, or the stats were reset */
    }
    n->db_rollbacks = r->xact_rollback;
    n->db_deadlocks = r->deadlocks;
    n->db_sample_ms = now;
}

static void
on_report(node_t *n, const Convoy__Wire__Report *r)
{
    if (r->leaving && !n->left)
        log_info("node %s is leaving the fleet (its agent stopped cleanly)", n->name);
    n->left = r->leaving;
    n->reported = true;
    n->db_ok = r->db_ok;
    snprintf(n->db_error, sizeof(n->db_error), "%s", r->db_error ? r->db_error : "");
    n->in_recovery = r->in_recovery;
    n->replay_paused = r->replay_paused;
    if (n->replica) {
        n->replay_lsn = r->replay_lsn;
        n->hb_seq = r->heartbeat_seq;
    }
    if (n->app) {
        n->error_rate = r->app_error_rate;
        snprintf(n->app_version, sizeof(n->app_version), "%s",
                 r->app_version ? r->app_version : "");
    }
    if (!n->replica && !n->cache && !n->app && r->db_ok)
        db_rates(n, r);
    if (n->cache) {
        n->redis_ok = r->redis_ok;
        snprintf(n->redis_error, sizeof(n->redis_error), "%s",
                 r->redis_error ? r->redis_error : "");
    }
}

static void
on_result(service_t *sv, node_t *n, const Convoy__Wire__Result *r)
{
    if (r->id != n->readers_cmd || r->id == 0)
        return; /* an answer to an older question */
    n->n_readers = (int)r->n_readers;
    n->oldest_pid = 0;
    n->oldest_age = 0;
    for (size_t i = 0; i < r->n_readers; i++)
        if (r->readers[i]->age_s >= n->oldest_age) {
            n->oldest_age = r->readers[i]->age_s;
            n->oldest_pid = r->readers[i]->pid;
        }
    n->readers_at_ms = now_mono_ms();
    if (r->n_readers > 0)
        log_info("replica %s: %zu session(s) read %s, oldest pid %d for %.0f s", n->name,
                 r->n_readers, sv->watch, n->oldest_pid, n->oldest_age);
}

static void
welcome(service_t *sv, node_t *n)
{
    wire_msg_t m;
    Convoy__Wire__Welcome w = CONVOY__WIRE__WELCOME__INIT;
    char sw[64];

    snprintf(sw, sizeof(sw), "convoy coordinator %s", CONVOY_VERSION);
    wire_init(&m, CONVOY__WIRE__MSG_TYPE__WELCOME, sv->id, ++sv->seq, NULL);
    w.coordinator = sv->id;
    w.software = sw;
    w.heartbeat_ms = (uint32_t)sv->cl.heartbeat_ms;
    m.welcome = &w;
    send_msg(sv, n->identity, n->identity_len, &m);
}

/* GATE_QUERY: may app version V start on the asking node? (convoy-agent gate wait) */
static void
answer_gate_query(service_t *sv, const transport_frame_t *f, const wire_msg_t *q)
{
    wire_msg_t m;
    Convoy__Wire__GateState g = CONVOY__WIRE__GATE_STATE__INIT;
    const char *version = q->gate_query->version;
    dgate_state_t state = DG_PENDING;
    json_t *reasons = NULL;
    int n_mig = 0;
    char **texts = NULL;
    size_t n_texts = 0;

    if (version == NULL || version[0] == '\0') {
        reply_error(sv, f, CONVOY__WIRE__WIRE_ERROR__E_MALFORMED, "GATE_QUERY without a version",
                    q->seq);
        return;
    }
    if (!primary_connect(sv)) {
        reasons = json_pack("[s]", "the coordinator cannot reach the primary: the gate state is "
                                   "unknown");
    } else if (!gates_for_version(sv->pg, sv->cl.name, version, &state, &reasons, &n_mig)) {
        state = DG_PENDING; /* fail closed: not evaluated is not open */
    }
    n_texts = json_array_size(reasons);
    texts = xcalloc(n_texts ? n_texts : 1, sizeof(*texts));
    for (size_t i = 0; i < n_texts; i++)
        texts[i] = (char *)json_string_value(json_array_get(reasons, i));
    wire_init(&m, CONVOY__WIRE__MSG_TYPE__GATE_STATE, sv->id, ++sv->seq, NULL);
    g.state = (char *)dgate_state_name(state);
    g.n_reasons = n_texts;
    g.reasons = texts;
    g.migrations = (uint32_t)n_mig;
    m.gate_state = &g;
    pthread_mutex_lock(&sv->mu);
    send_msg(sv, f->identity, f->identity_len, &m);
    pthread_mutex_unlock(&sv->mu);
    log_info("gate query from %s: app version %s is %s (%d migration%s)", q->node, version, g.state,
             n_mig, n_mig == 1 ? "" : "s");
    free(texts);
    json_decref(reasons);
}

static void
on_frame(service_t *sv, const transport_frame_t *f)
{
    wire_msg_t *m = NULL;
    char err[160];
    wire_status_t st = wire_decode(f->data, f->len, &m, err, sizeof(err));
    node_t *n = NULL;
    const char *who;
    bool gate_query = false;

    pthread_mutex_lock(&sv->mu);
    who = f->user_id[0] ? f->user_id : (m && m->node ? m->node : "");
    n = node_by_name(sv, who);
    if (st != WIRE_OK) {
        bad_frame(f, n, err);
        reply_error(sv, f, wire_status_error_code(st), err, m ? m->seq : 0);
        goto done;
    }
    if (n == NULL) {
        char *t = xasprintf("node `%s` is not in cluster %s", who, sv->cl.name);
        bad_frame(f, NULL, t);
        reply_error(sv, f, CONVOY__WIRE__WIRE_ERROR__E_NOT_ALLOWED, t, m->seq);
        free(t);
        goto done;
    }
    if (f->user_id[0] && strcmp(f->user_id, m->node) != 0) {
        char *t =
            xasprintf("the envelope says node `%s` but the key is node `%s`", m->node, f->user_id);
        bad_frame(f, n, t);
        reply_error(sv, f, CONVOY__WIRE__WIRE_ERROR__E_NOT_ALLOWED, t, m->seq);
        free(t);
        goto done;
    }
    if (m->type == CONVOY__WIRE__MSG_TYPE__GATE_QUERY) {
        /* a one-shot `convoy-agent gate wait` beside the node's agent: answered on its own
         * connection, without touching the node's route or liveness (below, unlocked) */
        gate_query = true;
        goto done;
    }
    if (n->last_seen_ms < 0 || now_mono_ms() - n->last_seen_ms > 3 * sv->cl.heartbeat_ms)
        log_info("agent %s is %s%s", n->name, n->last_seen_ms < 0 ? "connected" : "back",
                 sec_tag(sv));
    memcpy(n->identity, f->identity, f->identity_len);
    n->identity_len = f->identity_len;
    n->last_seen_ms = now_mono_ms();
    switch (m->type) {
    case CONVOY__WIRE__MSG_TYPE__HELLO:
        n->hello = true;
        n->left = false;
        welcome(sv, n);
        break;
    case CONVOY__WIRE__MSG_TYPE__REPORT:
        on_report(n, m->report);
        break;
    case CONVOY__WIRE__MSG_TYPE__RESULT:
        on_result(sv, n, m->result);
        break;
    case CONVOY__WIRE__MSG_TYPE__ERROR:
        bad_frame(f, n, m->error->message ? m->error->message : "an ERROR");
        break;
    case CONVOY__WIRE__MSG_TYPE__ACK:
        break;
    default:
        reply_error(sv, f, CONVOY__WIRE__WIRE_ERROR__E_NOT_ALLOWED,
                    "agents do not send this message type", m->seq);
        break;
    }
done:
    pthread_mutex_unlock(&sv->mu);
    if (gate_query)
        answer_gate_query(sv, f, m);
    wire_free(m);
}

/* Every heartbeat interval: HEARTBEAT to every agent; the readers question while asked. */
static void
tick(service_t *sv)
{
    int64_t now = now_mono_ms();

    pthread_mutex_lock(&sv->mu);
    for (size_t i = 0; i < sv->n_nodes; i++) {
        node_t *n = &sv->nodes[i];
        wire_msg_t m;
        if (n->identity_len == 0)
            continue;
        if (n->replica && sv->watch[0] && n->readers_at_ms < sv->watch_since_ms + 1) {
            Convoy__Wire__Command c = CONVOY__WIRE__COMMAND__INIT;
            wire_init(&m, CONVOY__WIRE__MSG_TYPE__COMMAND, sv->id, ++sv->seq, sv->migration);
            c.id = n->readers_cmd = ++sv->next_cmd;
            c.kind = "readers";
            c.table = sv->watch;
            m.command = &c;
            send_msg(sv, n->identity, n->identity_len, &m);
        } else if (n->replica && sv->watch[0] && now - n->readers_at_ms >= sv->cl.heartbeat_ms) {
            /* a reader can come and go: keep asking while the step waits */
            n->readers_at_ms = sv->watch_since_ms; /* stale until the next answer */
        }
        {
            Convoy__Wire__Heartbeat h = CONVOY__WIRE__HEARTBEAT__INIT;
            wire_init(&m, CONVOY__WIRE__MSG_TYPE__HEARTBEAT, sv->id, ++sv->seq, NULL);
            h.interval_ms = (uint64_t)sv->cl.heartbeat_ms;
            m.heartbeat = &h;
            send_msg(sv, n->identity, n->identity_len, &m);
        }
    }
    pthread_mutex_unlock(&sv->mu);
}

/* ---- setup and the loop ------------------------------------------------------------ */

/*
 * Serves the gate API. With two coordinators on one host the other may hold the port: then
 * this one stands by and tries again every few seconds, so the API survives either dying.
 */
static bool
http_try(service_t *sv, bool first)
{
    char *err = NULL;

    sv->http = http_start(sv->cl.http, sv->http_token, cluster_primary(&sv->cl)->conninfo, &err);
    if (sv->http) {
        http_context_t ctx = {sv->cl.name, sv->cl.max_lag_ms, sv->actor};
        http_set_context(sv->http, &ctx);
        log_info("gate API on http://%s/v1/gates/NAME (bearer token required)", sv->cl.http);
    } else if (err && strstr(err, "in use")) {
        if (first)
            log_warn("gate API: %s; another coordinator serves it, trying again every 2 s", err);
        sv->http_retry_ms = now_mono_ms() + 2000;
    } else {
        fprintf(stderr, "convoy coordinator: %s\n", err ? err : "gate API failed");
        free(err);
        return false;
    }
    free(err);
    return true;
}

static bool
setup(service_t *sv, const service_opts_t *o)
{
    char *errors = NULL, host[128] = "?";
    const struct passwd *pw = getpwuid(getuid());

    if (!cluster_load(o->config, &sv->cl, &errors)) {
        fprintf(stderr, "%s\n", errors);
        free(errors);
        return false;
    }
    sv->insecure = o->insecure || sv->cl.insecure;
    gethostname(host, sizeof(host) - 1);
    snprintf(sv->id, sizeof(sv->id), "coordinator@%s:%ld", host, (long)getpid());
    sv->actor = xasprintf("coordinator %s (%s@%s pid %ld)", sv->cl.name, pw ? pw->pw_name : "?",
                          host, (long)getpid());
    sv->max_lag_ms = sv->cl.max_lag_ms;
    sv->n_nodes = sv->cl.n_nodes;
    sv->nodes = xcalloc(sv->n_nodes ? sv->n_nodes : 1, sizeof(node_t));
    sv->allow = xcalloc(sv->n_nodes ? sv->n_nodes : 1, sizeof(zap_entry_t));
    for (size_t i = 0; i < sv->n_nodes; i++) {
        snprintf(sv->nodes[i].name, sizeof(sv->nodes[i].name), "%s", sv->cl.nodes[i].name);
        sv->nodes[i].replica = sv->cl.nodes[i].replica;
        sv->nodes[i].cache = sv->cl.nodes[i].cache;
        sv->nodes[i].app = sv->cl.nodes[i].app;
        sv->nodes[i].error_rate = -1;
        sv->nodes[i].last_seen_ms = -1;
        sv->nodes[i].hb_seq = -1;
        memcpy(sv->allow[i].key, sv->cl.nodes[i].key, sizeof(sv->allow[i].key));
        snprintf(sv->allow[i].name, sizeof(sv->allow[i].name), "%s", sv->cl.nodes[i].name);
    }
    if (!sv->insecure) {
        char *path = cluster_path(&sv->cl, sv->cl.key_file), *err = NULL;
        bool ok = keys_load(path, &sv->keys, &err);
        free(path);
        if (!ok) {
            fprintf(stderr, "%s: key_file: %s\n", sv->cl.path, err);
            free(err);
            return false;
        }
    }
    sv->zctx = zmq_ctx_new();
    if (!sv->insecure) {
        char *err = NULL;
        sv->zap.allow = sv->allow;
        sv->zap.n_allow = sv->n_nodes;
        if (!zap_open(&sv->zap, sv->zctx, &err)) {
            fprintf(stderr, "convoy coordinator: %s\n", err);
            free(err);
            return false;
        }
    }
    {
        char *err = NULL;
        const char *bind = o->bind ? o->bind : sv->cl.bind;
        sv->router = transport_bind_router(sv->zctx, bind, sv->insecure ? NULL : &sv->keys, &err);
        if (sv->router == NULL) {
            fprintf(stderr, "convoy coordinator: %s\n", err);
            free(err);
            return false;
        }
        log_info("coordinator of cluster %s listening on %s, %zu nodes, heartbeat %lld ms, "
                 "max lag %lld ms%s",
                 sv->cl.name, bind, sv->n_nodes, (long long)sv->cl.heartbeat_ms,
                 (long long)sv->cl.max_lag_ms,
                 sv->insecure ? " [INSECURE: no CURVE; --insecure]" : ", CURVE on");
    }
    if (sv->cl.http) {
        char *path = cluster_path(&sv->cl, sv->cl.http_token_file);
        char *token = read_file(path, NULL);
        size_t n = token ? strcspn(token, "\r\n") : 0;
        if (token == NULL || n < 16) {
            fprintf(stderr, "%s: http_token_file %s: %s\n", sv->cl.path, path,
                    token ? "the token must be at least 16 characters" : strerror(errno));
            free(token);
            free(path);
            return false;
        }
        token[n] = '\0';
        sv->http_token = token;
        free(path);
        if (!http_try(sv, true))
            return false;
    }
    pthread_mutex_init(&sv->mu, NULL);
    sv->gate.ask = gate_ask;
    sv->gate.poll_ms = sv->cl.heartbeat_ms;
    sv->gate.ud = sv;
    return true;
}

static void
zap_log(void *ud, const char *line)
{
    (void)ud;
    log_warn("%s", line);
}

static void
teardown(service_t *sv)
{
    if (sv->worker_running)
        pthread_join(sv->worker, NULL);
    http_stop(sv->http);
    if (sv->http_token)
        sodium_memzero(sv->http_token, strlen(sv->http_token));
    free(sv->http_token);
    pg_close(&sv->pg);
    if (sv->router)
        zmq_close(sv->router);
    zap_close(&sv->zap);
    if (sv->zctx)
        zmq_ctx_term(sv->zctx);
    cluster_free(&sv->cl);
    free(sv->nodes);
    free(sv->allow);
    free(sv->actor);
    free(sv->pick_name);
    free(sv->pick_source);
    free(sv->pick_file);
}

int
service_run(const service_opts_t *o)
{
    service_t sv;
    struct sigaction sa;
    int64_t next_tick, next_view = 0;

    memset(&sv, 0, sizeof(sv));
    if (!setup(&sv, o)) {
        teardown(&sv);
        return EXIT_ERROR;
    }
    sv.zap.log = zap_log;
    the_service = &sv;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    next_tick = now_mono_ms();
    while (!stop_requested || sv.worker_running) {
        zmq_pollitem_t items[3];
        int n = 0, zi = -1, pi = -1;
        int64_t now = now_mono_ms(), timeout = next_tick - now;
        transport_frame_t f;

        if (timeout < 0)
            timeout = 0;
        items[n++] = (zmq_pollitem_t){sv.router, 0, ZMQ_POLLIN, 0};
        if (sv.zap.sock) {
            zi = n;
            items[n++] = (zmq_pollitem_t){sv.zap.sock, 0, ZMQ_POLLIN, 0};
        }
        if (sv.pg) {
            pi = n;
            items[n++] = (zmq_pollitem_t){NULL, PQsocket(sv.pg->conn), ZMQ_POLLIN, 0};
        }
        if (zmq_poll(items, n, (long)timeout) < 0 && zmq_errno() != EINTR)
            break;
        if (zi >= 0 && (items[zi].revents & ZMQ_POLLIN))
            zap_handle(&sv.zap);
        for (int k = 0; k < 1000 && transport_recv(sv.router, true, &f); k++) {
            on_frame(&sv, &f);
            transport_frame_clear(&f);
        }
        drain_notifies(&sv, pi >= 0 && (items[pi].revents & ZMQ_POLLIN));
        now = now_mono_ms();
        if (now >= next_tick) {
            next_tick += sv.cl.heartbeat_ms;
            if (next_tick < now)
                next_tick = now + sv.cl.heartbeat_ms;
            if (sv.driving)
                write_heartbeat(&sv);
            tick(&sv);
        }
        if (now >= next_view) {
            /* idle too: the contract gate reads which app version each node runs */
            write_fleet_view(&sv);
            next_view = now + (sv.driving ? VIEW_INTERVAL_MS : IDLE_VIEW_INTERVAL_MS);
        }
        if (sv.worker_running && sv.worker_done) {
            pthread_join(sv.worker, NULL);
            write_fleet_view(&sv); /* the view as the migration ended */
            sv.worker_running = false;
            sv.next_pick_ms = now + (sv.last_busy ? PICK_INTERVAL_MS : 0);
        }
        if (!sv.worker_running && now >= sv.next_pick_ms)
            pick_up(&sv);
        if (sv.cl.http && sv.http == NULL && now >= sv.http_retry_ms && !http_try(&sv, false))
            sv.http_retry_ms = now + 2000;
    }
    log_info("coordinator stopped%s", sec_tag(&sv));
    the_service = NULL;
    teardown(&sv);
    return EXIT_OK;
}
