/* gates.c: the deploy gates, evaluated from durable state (see include/convoy/gates.h). */
#include "convoy/gates.h"

#include "convoy/state.h"
#include "convoy/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The conditions of the expand gate: each unmet one is a reason; *fatal when one cannot hold. */
static bool
expand_conditions(pg_t *pg, const char *name, json_t *reasons, bool *fatal)
{
    const char *p[1] = {name};
    PGresult *r = NULL;

    if (pg_run(pg,
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
               1, p, &r) != PG_OK ||
        PQntuples(r) != 1) {
        json_array_append_new(reasons,
                              json_string(PQntuples(r) == 0 ? "no such migration" : pg_errmsg(pg)));
        PQclear(r);
        return false;
    }
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
        json_array_append_new(*reasons,
                              json_string("no app agent reports the new version (the contract "
                                          "gate needs app agents)"));
    }
    to = json_array_size(*reasons) == 0 ? DG_OPEN : fatal ? DG_FAILED : DG_PENDING;
    if ((!have || to != from) && !gate_set(pg, name, gate, from, to, *reasons) && have)
        to = from;
    *state = to;
    return true;
}
