/* gates.c: the deploy gates, evaluated from durable state (see include/convoy/gates.h). */
#include "convoy/gates.h"

#include "convoy/plan.h"
#include "convoy/rollout.h"
#include "convoy/state.h"
#include "convoy/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The migration's one row from `sql` ($1 = name); NULL with the reason added when there is none. */
static PGresult *
migration_row(pg_t *pg, const char *sql, const char *name, json_t *reasons)
{
    const char *p[1] = {name};
    PGresult *r = NULL;

    if (pg_run(pg, sql, 1, p, &r) == PG_OK && PQntuples(r) == 1)
        return r;
    json_array_append_new(
        reasons, json_string(r && PQntuples(r) == 0 ? "no such migration" : pg_errmsg(pg)));
    PQclear(r);
    return NULL;
}

/* The conditions of the expand gate: each unmet one is a reason; *fatal when one cannot hold. */
static bool
expand_conditions(pg_t *pg, const char *name, json_t *reasons, bool *fatal)
{
    PGresult *r = migration_row(
        pg,
        "SELECT m.status, m.current_step, m.n_steps, "
        "(SELECT count(*) FROM convoy.invalidations i WHERE i.migration = m.name AND "
        "i.confirmed_at IS NULL), "
        "(SELECT count(*) FROM convoy.invalidations i WHERE i.migration = m.name), "
        "(SELECT v.ok::text || ' ' || coalesce((SELECT e->>'node' || ': ' || (e->>'detail') "
        "FROM jsonb_array_elements(v.report) e WHERE NOT (e->>'ok')::boolean LIMIT 1), '') "
        "FROM convoy.verifications v WHERE v.migration = m.name ORDER BY v.id DESC LIMIT "
        "1), "
        /* the latest check of each app version: every one must pass */
        "(SELECT string_agg(c.version || ': ' || (SELECT 'line ' || (e->>'line') || ' `' "
        "|| (e->>'sql') || '`: ' || (e->>'reason') FROM jsonb_array_elements(c.report) e "
        "WHERE e->>'level' = 'fail' LIMIT 1), '; ') FROM "
        "(SELECT DISTINCT ON (version) * FROM convoy.compat WHERE migration = m.name ORDER "
        "BY version, id DESC) c WHERE NOT c.ok) "
        "FROM convoy.migrations m WHERE m.name = $1",
        name, reasons);

    if (r == NULL)
        return false;
    {
        const char *st = PQgetvalue(r, 0, 0);
        long pending = strtol(PQgetvalue(r, 0, 3), NULL, 10);
        const char *ver = PQgetisnull(r, 0, 5) ? NULL : PQgetvalue(r, 0, 5);

        if (strcmp(st, "done") != 0) {
            json_array_append_new(reasons,
                                  json_sprintf("migration %s is %s (step %s of %s)", name, st,
                                               PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2)));
            if (!strcmp(st, "failed") || !strcmp(st, "aborted") || !strcmp(st, "blocked"))
                *fatal = true;
        }
        if (pending > 0)
            json_array_append_new(reasons,
                                  json_sprintf("%ld of %s cache invalidations not confirmed yet",
                                               pending, PQgetvalue(r, 0, 4)));
        if (!PQgetisnull(r, 0, 6)) {
            json_array_append_new(reasons,
                                  json_sprintf("compatibility failed for %s", PQgetvalue(r, 0, 6)));
            *fatal = true;
        }
        if (ver == NULL) {
            json_array_append_new(reasons, json_string("not verified yet (convoy verify)"));
        } else if (strncmp(ver, "false", 5) == 0) {
            json_array_append_new(reasons, json_sprintf("verification failed: %s", ver + 6));
            *fatal = true;
        }
    }
    PQclear(r);
    return true;
}

/* The contract gate's own conditions: the app runs the migration's version (rollout.c). */
static bool
contract_conditions(pg_t *pg, const char *name, json_t *reasons)
{
    PGresult
        *f = NULL,
        *r = migration_row(
            pg,
            "SELECT settings->>'app_version', coalesce((settings->>'contract_hold_ms')::bigint, "
            "" STATE_STR(
                PLAN_DEFAULT_CONTRACT_HOLD_MS) "), cluster FROM convoy.migrations WHERE name = $1",
            name, reasons);
    const char *version, *cluster;
    int64_t hold;

    if (r == NULL)
        return false;
    version = PQgetisnull(r, 0, 0) ? NULL : PQgetvalue(r, 0, 0);
    cluster = PQgetisnull(r, 0, 2) ? NULL : PQgetvalue(r, 0, 2);
    hold = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    if (version == NULL) {
        json_array_append_new(reasons,
                              json_sprintf("migration %s names no app version (`-- "
                                           "convoy:app-version V` in its file): the contract "
                                           "gate cannot tell the old app from the new",
                                           name));
    } else if (cluster == NULL) {
        json_array_append_new(reasons,
                              json_sprintf("migration %s was not applied through a coordinator "
                                           "(convoy apply --cluster): no app agent reports which "
                                           "version runs",
                                           name));
    } else {
        const char *pc[1] = {cluster};
        if (pg_run(pg,
                   "SELECT node, role, state, app_version, (extract(epoch FROM now() - "
                   "version_since) * 1000)::bigint, (extract(epoch FROM now() - seen_at) * "
                   "1000)::bigint FROM convoy.fleet WHERE cluster = $1 ORDER BY node",
                   1, pc, &f) != PG_OK) {
            json_array_append_new(reasons, json_string(pg_errmsg(pg)));
        } else {
            int nf = PQntuples(f), n = 0;
            bool fresh = false;
            rollout_node_t *nodes = xcalloc(nf ? (size_t)nf : 1, sizeof(*nodes));
            rollout_verdict_t v;

            for (int i = 0; i < nf; i++) {
                int64_t seen = strtoll(PQgetvalue(f, i, 5), NULL, 10);
                fresh = fresh || seen <= ROLLOUT_FRESH_MS;
                if (strcmp(PQgetvalue(f, i, 1), "app") != 0)
                    continue;
                nodes[n].node = PQgetvalue(f, i, 0);
                nodes[n].state = PQgetvalue(f, i, 2);
                nodes[n].version = PQgetisnull(f, i, 3) ? NULL : PQgetvalue(f, i, 3);
                nodes[n].since_ms =
                    PQgetisnull(f, i, 4) ? -1 : strtoll(PQgetvalue(f, i, 4), NULL, 10);
                nodes[n].seen_ms = seen;
                n++;
            }
            rollout_decide(nodes, (size_t)n, fresh, version, hold, &v);
            for (int i = 0; i < v.n_reasons && i < (int)(sizeof(v.reasons) / sizeof(v.reasons[0]));
                 i++)
                json_array_append_new(reasons, json_string(v.reasons[i]));
            free(nodes);
        }
        PQclear(f);
    }
    PQclear(r);
    return true;
}

/* Moves the gate along dgate_edges[] and audits it; an edge the table lacks is refused. */
static bool
gate_set(pg_t *pg,
         const char *name,
         const char *gate,
         dgate_state_t from,
         dgate_state_t to,
         const json_t *reasons)
{
    char *txt = json_dumps(reasons, JSON_COMPACT);
    char *outcome = xasprintf("%s: %s -> %s", gate, dgate_state_name(from), dgate_state_name(to));
    const char *p[5] = {name, gate, dgate_state_name(to), txt, dgate_state_name(from)};
    const char *pa[3] = {name, outcome, txt};
    bool ok;

    if (from != to && dgate_edge(from, to) == NULL) {
        free(txt);
        free(outcome);
        return false;
    }
    ok = pg_run(pg,
                "INSERT INTO convoy.gates (migration, gate, state, reasons) VALUES ($1, $2, $3, "
                "$4::jsonb) ON CONFLICT (migration, gate) DO UPDATE SET state = EXCLUDED.state, "
                "reasons = EXCLUDED.reasons, updated_at = clock_timestamp() WHERE "
                "convoy.gates.state = $5 OR $5 = $3",
                5, p, NULL) == PG_OK;
    if (ok && from != to) {
        pg_run(pg,
               "INSERT INTO convoy.audit (migration, actor, action, outcome, detail) VALUES ($1, "
               "'convoy', 'gate', $2, $3)",
               3, pa, NULL);
        pg_exec(pg, "NOTIFY convoy, 'gate'");
    }
    free(txt);
    free(outcome);
    return ok;
}

bool
gates_evaluate(pg_t *pg, const char *name, const char *gate, dgate_state_t *state, json_t **reasons)
{
    const char *p[2] = {name, gate};
    char *cur;
    dgate_state_t from = DG_PENDING, to;
    bool fatal = false, have;

    *reasons = json_array();
    cur = pg_value(pg, "SELECT state FROM convoy.gates WHERE migration = $1 AND gate = $2", 2, p);
    have = cur && dgate_state_parse(cur, &from);
    free(cur);
    if (have && from == DG_OPEN) { /* open is final: the rollout may already have gone */
        *state = DG_OPEN;
        return true;
    }
    if (strcmp(gate, "expand") == 0) {
        if (!expand_conditions(pg, name, *reasons, &fatal))
            return false;
    } else {
        dgate_state_t e;
        json_t *er = NULL;
        if (!gates_evaluate(pg, name, "expand", &e, &er))
            return false;
        json_decref(er);
        if (e != DG_OPEN)
            json_array_append_new(*reasons, json_string("the expand gate is not open yet"));
        if (!contract_conditions(pg, name, *reasons))
            return false;
    }
    to = json_array_size(*reasons) == 0 ? DG_OPEN : fatal ? DG_FAILED : DG_PENDING;
    if ((!have || to != from) && !gate_set(pg, name, gate, from, to, *reasons) && have)
        to = from;
    *state = to;
    return true;
}

bool
gates_for_version(pg_t *pg,
                  const char *cluster,
                  const char *version,
                  dgate_state_t *state,
                  json_t **reasons,
                  int *n_migrations)
{
    const char *p[2] = {cluster, version};
    PGresult *r = NULL;
    bool failed = false, pending = false;

    *reasons = json_array();
    *n_migrations = 0;
    if (pg_run(pg,
               "SELECT name FROM convoy.migrations WHERE cluster = $1 AND settings->>'app_version' "
               "= $2 ORDER BY started_at, name",
               2, p, &r) != PG_OK) {
        json_array_append_new(*reasons, json_string(pg_errmsg(pg)));
        PQclear(r);
        return false;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        const char *name = PQgetvalue(r, i, 0);
        dgate_state_t g;
        json_t *why = NULL, *w;
        size_t k;

        (*n_migrations)++;
        if (!gates_evaluate(pg, name, "expand", &g, &why)) {
            json_decref(why);
            json_array_append_new(*reasons, json_sprintf("%s: %s", name, pg_errmsg(pg)));
            PQclear(r);
            return false;
        }
        failed = failed || g == DG_FAILED;
        pending = pending || g == DG_PENDING;
        json_array_foreach(why, k, w)
            json_array_append_new(*reasons, json_sprintf("%s: %s", name, json_string_value(w)));
        json_decref(why);
    }
    PQclear(r);
    *state = failed ? DG_FAILED : pending ? DG_PENDING : DG_OPEN;
    return true;
}
