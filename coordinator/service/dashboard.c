/* dashboard.c: the live view's overview document and the operator's requests. */
#include "dashboard.h"

#include "convoy/engine.h"
#include "convoy/log.h"
#include "convoy/state.h"
#include "convoy/util.h"

#include <stdlib.h>
#include <string.h>

/*
 * One read of the durable state as one JSON document. $1: the cluster (its fleet rows;
 * NULL: all), $2: how many audit rows. Timestamps are ISO 8601 (to_json).
 */
static const char overview_sql[] =
    "SELECT json_build_object("
    "'now', to_json(now()), "
    "'migrations', coalesce((SELECT json_agg(x ORDER BY x.updated_epoch DESC) FROM ("
    "SELECT m.name AS migration, m.status, m.current_step, m.n_steps, m.cluster, "
    "to_json(m.started_at) AS started_at, to_json(m.updated_at) AS updated_at, "
    "to_json(m.finished_at) AS finished_at, extract(epoch FROM m.updated_at) AS updated_epoch, "
    "m.error, m.hold_reason, "
    "to_json(m.held_since) AS held_since, m.overrides, m.worst_lag_ms, "
    "(SELECT json_agg(json_build_object('n', s.n, 'kind', s.kind, 'summary', s.summary, "
    "'status', s.status, 'attempts', s.attempts, 'duration_ms', s.duration_ms) ORDER BY s.n) "
    "FROM convoy.steps s WHERE s.migration = m.name) AS steps, "
    "(SELECT json_build_object('step', b.step, 'rows_done', b.rows_done, 'rows_updated', "
    "b.rows_updated, 'rows_total', b.rows_total, 'batches', b.batches, 'batch_size', "
    "b.batch_size, 'updated_at', to_json(b.updated_at), 'elapsed_s', "
    "round(extract(epoch FROM b.updated_at - b.started_at)::numeric, 3)) "
    "FROM convoy.backfill b WHERE b.migration = m.name ORDER BY b.updated_at DESC LIMIT 1) "
    "AS backfill, "
    "(SELECT json_agg(json_build_object('gate', g.gate, 'state', g.state, 'reasons', g.reasons) "
    "ORDER BY g.gate) FROM convoy.gates g WHERE g.migration = m.name) AS gates, "
    /* the lease is held while the driver's session holds its advisory lock */
    "(SELECT l.holder FROM convoy.lease l JOIN pg_locks k ON k.locktype = 'advisory' AND "
    "k.classid = 1668247158 AND k.objid = l.lock_key AND k.objsubid = 2 AND k.granted "
    "WHERE l.migration = m.name) AS lease_holder "
    "FROM convoy.migrations m ORDER BY m.updated_at DESC LIMIT 20) x), '[]'), "
    "'fleet', coalesce((SELECT json_agg(json_build_object('cluster', f.cluster, 'node', f.node, "
    "'role', f.role, 'state', f.state, 'lag_ms', f.lag_ms, 'lag_bytes', f.lag_bytes, "
    "'replay_lsn', f.replay_lsn, 'detail', f.detail, 'coordinator', f.coordinator, 'age_s', "
    "round(extract(epoch FROM now() - f.seen_at)::numeric, 1)) ORDER BY f.node) "
    "FROM convoy.fleet f WHERE $1::text IS NULL OR f.cluster = $1), '[]'), "
    "'audit', coalesce((SELECT json_agg(a ORDER BY a.id DESC) FROM (SELECT id, to_json(at) AS "
    "at, migration, step, actor, action, outcome, duration_ms, rows, detail FROM convoy.audit "
    "ORDER BY id DESC LIMIT $2::int) a), '[]'))::text";

json_t *
dashboard_overview(pg_t *pg, const char *cluster, int64_t max_lag_ms, char **err)
{
    const char *p[2] = {cluster, "25"};
    json_t *doc, *ms, *m;
    json_error_t jerr;
    char *text;
    size_t i;

    if (!state_schema_exists(pg)) {
        if (pg_sqlstate(pg)[0] && strcmp(pg_sqlstate(pg), "00000") != 0) {
            *err = xasprintf("reading the state: %s", pg_errmsg(pg));
            return NULL;
        }
        doc = json_pack("{s:[], s:[], s:[]}", "migrations", "fleet", "audit");
    } else {
        if ((text = pg_value(pg, overview_sql, 2, p)) == NULL) {
            *err = xasprintf("reading the state: %s", pg_errmsg(pg));
            return NULL;
        }
        doc = json_loads(text, 0, &jerr);
        free(text);
        if (doc == NULL) {
            *err = xasprintf("the overview is not JSON: %s", jerr.text);
            return NULL;
        }
    }
    /* the lag limit in force for each migration: its `convoy set max-lag`, else the config */
    ms = json_object_get(doc, "migrations");
    json_array_foreach(ms, i, m)
    {
        const char *over =
            json_string_value(json_object_get(json_object_get(m, "overrides"), "max-lag"));
        int64_t lim = max_lag_ms;
        if (over && !parse_duration_ms(over, &lim))
            lim = max_lag_ms;
        json_object_set_new(m, "max_lag_ms", lim > 0 ? json_integer(lim) : json_null());
    }
    json_object_set_new(doc, "cluster", cluster ? json_string(cluster) : json_null());
    json_object_set_new(doc, "max_lag_ms", max_lag_ms > 0 ? json_integer(max_lag_ms) : json_null());
    json_object_set_new(doc, "version", json_string(CONVOY_VERSION));
    return doc;
}

static const char *const op_names[] = {"pause", "resume", "abort"};

static void
log_event(void *ud, const engine_event_t *e)
{
    (void)ud;
    if (e->text && e->text[0])
        log_info("dashboard abort: %s", e->text);
}

json_t *
dashboard_request(pg_t *pg,
                  const char *conninfo,
                  const char *actor,
                  const char *name,
                  operator_op_t op,
                  const char *client,
                  unsigned *status)
{
    const char *verb = op_names[op];

    log_info("operator request from the dashboard (%s): %s %s", client, verb, name);
    state_set_actor(actor); /* this HTTP thread's own (the actor is per thread) */
    if (op == OP_ABORT) {
        /* exactly what `convoy abort` runs; the driver stops at its next safe point */
        abort_req_t req = {0};
        engine_events_t ev = {log_event, NULL};
        engine_outcome_t out;
        json_t *body;

        req.conninfo = conninfo;
        req.name = name;
        req.actor = actor;
        req.wait_ms = 0;
        engine_abort(&req, NULL, &ev, &out);
        *status = out.result == RES_ABORTED         ? 200
                  : out.result == RES_STILL_RUNNING ? 202
                  : out.result == RES_NOT_FOUND     ? 404
                  : out.result == RES_INVALID       ? 409
                                                    : 503;
        body =
            json_pack("{s:s, s:s, s:s?, s:s, s:s?}", "migration", name, "request", verb, "status",
                      out.status, "result", engine_result_name(out.result), "message", out.message);
        engine_outcome_free(&out);
        return body;
    }
    {
        mig_status_t to = MIG_N_STATUS;
        char *detail = xasprintf("requested by operator from the dashboard (%s)", client);
        transition_result_t tr = state_transition(
            pg, name, 0, op == OP_PAUSE ? EV_PAUSE_REQUEST : EV_RESUME_REQUEST, detail, &to);
        json_t *body;

        free(detail);
        switch (tr) {
        case TR_OK:
            *status = 200;
            return json_pack("{s:s, s:s, s:s}", "migration", name, "request", verb, "status",
                             mig_status_name(to));
        case TR_NO_EDGE:
            *status = 409;
            body = json_pack("{s:s, s:s, s:s}", "migration", name, "status", mig_status_name(to),
                             "request", verb);
            json_object_set_new(
                body, "error",
                json_sprintf("cannot %s %s: it is %s", verb, name, mig_status_name(to)));
            return body;
        case TR_MISSING:
            *status = 404;
            return json_pack("{s:s}", "error", "no migration of that name");
        default:
            *status = 503;
            return json_pack("{s:s, s:s}", "error", "the request could not be recorded", "detail",
                             pg_errmsg(pg));
        }
    }
}
