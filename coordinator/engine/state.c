/* state.c: the convoy schema: migrations, steps, checkpoints and the audit log. */
#include "convoy/state.h"

#include "convoy/log.h"
#include "convoy/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *actor_name;

static const char schema_sql[] =
    "CREATE SCHEMA IF NOT EXISTS convoy;\n"
    "CREATE TABLE IF NOT EXISTS convoy.migrations (\n"
    "  name text PRIMARY KEY,\n"
    "  checksum text NOT NULL,\n"
    "  status text NOT NULL,\n"
    "  current_step int NOT NULL DEFAULT 0,\n"
    "  n_steps int NOT NULL,\n"
    "  started_by text NOT NULL,\n"
    "  started_at timestamptz NOT NULL DEFAULT now(),\n"
    "  updated_at timestamptz NOT NULL DEFAULT now(),\n"
    "  finished_at timestamptz,\n"
    "  error text);\n"
    "CREATE TABLE IF NOT EXISTS convoy.steps (\n"
    "  migration text NOT NULL REFERENCES convoy.migrations (name) ON DELETE CASCADE,\n"
    "  n int NOT NULL,\n"
    "  kind text NOT NULL,\n"
    "  summary text,\n"
    "  spec jsonb NOT NULL,\n"
    "  status text NOT NULL DEFAULT 'pending',\n"
    "  attempts int NOT NULL DEFAULT 0,\n"
    "  started_at timestamptz,\n"
    "  finished_at timestamptz,\n"
    "  duration_ms bigint,\n"
    "  rows bigint,\n"
    "  error text,\n"
    "  PRIMARY KEY (migration, n));\n"
    "CREATE TABLE IF NOT EXISTS convoy.backfill (\n"
    "  migration text NOT NULL,\n"
    "  step int NOT NULL,\n"
    "  last_key text[],\n"
    "  upper_key text[],\n"
    "  rows_done bigint NOT NULL DEFAULT 0,\n"
    "  rows_updated bigint NOT NULL DEFAULT 0,\n"
    "  rows_total bigint,\n"
    "  batches bigint NOT NULL DEFAULT 0,\n"
    "  batch_size int,\n"
    "  started_at timestamptz NOT NULL DEFAULT now(),\n"
    "  updated_at timestamptz NOT NULL DEFAULT now(),\n"
    "  PRIMARY KEY (migration, step));\n"
    "CREATE TABLE IF NOT EXISTS convoy.audit (\n"
    "  id bigserial PRIMARY KEY,\n"
    "  at timestamptz NOT NULL DEFAULT clock_timestamp(),\n"
    "  migration text,\n"
    "  step int,\n"
    "  actor text NOT NULL,\n"
    "  db_user text NOT NULL DEFAULT current_user,\n"
    "  action text NOT NULL,\n"
    "  sql text,\n"
    "  locks text,\n"
    "  duration_ms bigint,\n"
    "  rows bigint,\n"
    "  outcome text NOT NULL,\n"
    "  detail text);\n"
    "CREATE TABLE IF NOT EXISTS convoy.lease (\n"
    "  migration text PRIMARY KEY,\n"
    "  holder text NOT NULL,\n"
    "  token bigint NOT NULL,\n"
    "  backend_pid int,\n"
    "  backend_start timestamptz,\n"
    "  acquired_at timestamptz NOT NULL DEFAULT now(),\n"
    "  expires_at timestamptz NOT NULL);\n"
    "CREATE OR REPLACE FUNCTION convoy.audit_append_only() RETURNS trigger LANGUAGE plpgsql AS\n"
    "$$BEGIN RAISE EXCEPTION 'convoy.audit is append-only'; END$$;\n"
    "DROP TRIGGER IF EXISTS audit_append_only ON convoy.audit;\n"
    "CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON convoy.audit\n"
    "  FOR EACH ROW EXECUTE FUNCTION convoy.audit_append_only();\n"
    "DROP TRIGGER IF EXISTS audit_no_truncate ON convoy.audit;\n"
    "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON convoy.audit\n"
    "  FOR EACH STATEMENT EXECUTE FUNCTION convoy.audit_append_only();\n";

void
state_set_actor(const char *actor)
{
    free(actor_name);
    actor_name = xstrdup(actor);
}

const char *
state_actor(void)
{
    return actor_name ? actor_name : "convoy";
}

bool
state_schema_exists(pg_t *pg)
{
    char *v = pg_value(pg, "SELECT to_regclass('convoy.migrations') IS NOT NULL", 0, NULL);
    bool exists = v && v[0] == 't';
    free(v);
    return exists;
}

static bool
schema_ready(pg_t *pg)
{
    char *v;
    bool ready;

    if (!state_schema_exists(pg))
        return false;
    v = pg_value(pg, "SELECT 1 FROM pg_trigger WHERE tgname = 'audit_no_truncate'", 0, NULL);
    ready = v != NULL;
    free(v);
    return ready;
}

bool
state_ensure_schema(pg_t *pg, char **err)
{
    sb_t sb;
    bool ok;

    if (schema_ready(pg))
        return true;
    /*
     * Serialise concurrent creators with a session lock taken in its own
     * statement: the script below then starts with a fresh catalog snapshot
     * and sees a schema another process just created (an advisory lock taken
     * inside the script does not invalidate the catalog snapshot).
     */
    if (pg_exec(pg, "SELECT pg_advisory_lock(hashtext('convoy.schema'))") != PG_OK) {
        *err = xasprintf("locking the convoy schema: %s", pg_errmsg(pg));
        return false;
    }
    if (schema_ready(pg)) {
        pg_exec(pg, "SELECT pg_advisory_unlock(hashtext('convoy.schema'))");
        return true;
    }
    sb_init(&sb);
    sb_puts(&sb, "BEGIN;\n");
    sb_puts(&sb, schema_sql);
    sb_puts(&sb, "COMMIT;");
    ok = pg_exec(pg, sb.data) == PG_OK;
    if (!ok) {
        *err = xasprintf("creating the convoy schema: %s", pg_errmsg(pg));
        pg_exec(pg, "ROLLBACK");
    }
    pg_exec(pg, "SELECT pg_advisory_unlock(hashtext('convoy.schema'))");
    sb_free(&sb);
    return ok;
}

void
mig_row_free(mig_row_t *r)
{
    free(r->name);
    free(r->checksum);
    free(r->status);
    memset(r, 0, sizeof(*r));
}

bool
state_load_migration(pg_t *pg, const char *name, mig_row_t *out, bool *found)
{
    const char *params[1] = {name};
    PGresult *r = NULL;

    memset(out, 0, sizeof(*out));
    *found = false;
    if (!state_schema_exists(pg))
        return true;
    if (pg_run(pg,
               "SELECT name, checksum, status, current_step, n_steps FROM convoy.migrations "
               "WHERE name = $1",
               1, params, &r) != PG_OK)
        return false;
    if (PQntuples(r) == 1) {
        *found = true;
        out->name = xstrdup(PQgetvalue(r, 0, 0));
        out->checksum = xstrdup(PQgetvalue(r, 0, 1));
        out->status = xstrdup(PQgetvalue(r, 0, 2));
        out->current_step = (int)strtol(PQgetvalue(r, 0, 3), NULL, 10);
        out->n_steps = (int)strtol(PQgetvalue(r, 0, 4), NULL, 10);
    }
    PQclear(r);
    return true;
}

bool
state_create_migration(
    pg_t *pg, const char *name, const char *checksum, const plan_t *plan, const char *actor)
{
    char n_steps[16];
    const char *p[4] = {name, checksum, n_steps, actor};
    bool ok = false;

    snprintf(n_steps, sizeof(n_steps), "%zu", plan->n_steps);
    if (pg_exec(pg, "BEGIN") != PG_OK)
        return false;
    if (pg_run(pg,
               "INSERT INTO convoy.migrations (name, checksum, status, n_steps, started_by) "
               "VALUES ($1, $2, 'running', $3::int, $4)",
               4, p, NULL) != PG_OK)
        goto done;
    for (size_t i = 0; i < plan->n_steps; i++) {
        json_t *spec = plan_step_encode(&plan->steps[i]);
        char *spec_s = json_dumps(spec, JSON_COMPACT);
        char num[16];
        const char *sp[5] = {name, num, step_kind_name(plan->steps[i].kind), plan->steps[i].summary,
                             spec_s};
        pg_status_t st;
        snprintf(num, sizeof(num), "%d", (int)(i + 1));
        st = pg_run(pg,
                    "INSERT INTO convoy.steps (migration, n, kind, summary, spec) "
                    "VALUES ($1, $2::int, $3, $4, $5::jsonb)",
                    5, sp, NULL);
        free(spec_s);
        json_decref(spec);
        if (st != PG_OK)
            goto done;
    }
    ok = pg_exec(pg, "COMMIT") == PG_OK;
done:
    if (!ok)
        pg_exec(pg, "ROLLBACK");
    return ok;
}

bool
state_load_steps(pg_t *pg, const char *name, plan_t *plan, char ***status_out)
{
    const char *p[1] = {name};
    PGresult *r = NULL;
    int n;
    char **status;

    if (pg_run(pg, "SELECT spec::text, status FROM convoy.steps WHERE migration = $1 ORDER BY n", 1,
               p, &r) != PG_OK)
        return false;
    n = PQntuples(r);
    plan->steps = xcalloc((size_t)(n ? n : 1), sizeof(step_t));
    status = xcalloc((size_t)(n ? n : 1), sizeof(char *));
    for (int i = 0; i < n; i++) {
        json_error_t jerr;
        json_t *o = json_loads(PQgetvalue(r, i, 0), 0, &jerr);
        bool ok = o && plan_step_decode(o, &plan->steps[i]);
        json_decref(o);
        status[i] = xstrdup(PQgetvalue(r, i, 1));
        if (!ok) {
            log_error("stored step %d of migration %s is unreadable", i + 1, name);
            plan->n_steps = (size_t)i;
            *status_out = status;
            PQclear(r);
            return false;
        }
    }
    plan->n_steps = (size_t)n;
    *status_out = status;
    PQclear(r);
    return true;
}

bool
state_mark_step(pg_t *pg,
                const char *name,
                int n,
                const char *status,
                int64_t duration_ms,
                int64_t rows,
                const char *error)
{
    char num[16], dur[32], rws[32];
    const char *p[6] = {name, num, status, duration_ms >= 0 ? dur : NULL, rows >= 0 ? rws : NULL,
                        error};

    snprintf(num, sizeof(num), "%d", n);
    snprintf(dur, sizeof(dur), "%lld", (long long)duration_ms);
    snprintf(rws, sizeof(rws), "%lld", (long long)rows);
    if (pg_run(pg,
               "WITH s AS (UPDATE convoy.steps SET status = $3, attempts = attempts + "
               "(CASE WHEN $3 = 'running' THEN 1 ELSE 0 END), "
               "started_at = CASE WHEN $3 = 'running' THEN now() ELSE started_at END, "
               "finished_at = CASE WHEN $3 IN ('done', 'failed', 'blocked') THEN clock_timestamp() "
               "END, duration_ms = $4::bigint, rows = $5::bigint, error = $6 "
               "WHERE migration = $1 AND n = $2::int) "
               "UPDATE convoy.migrations SET current_step = $2::int, updated_at = now(), "
               "error = $6 WHERE name = $1",
               6, p, NULL) != PG_OK)
        return false;
    return true;
}

char *
state_status(pg_t *pg, const char *name)
{
    const char *p[1] = {name};
    return pg_value(pg, "SELECT status FROM convoy.migrations WHERE name = $1", 1, p);
}

bool
state_set_status(pg_t *pg, const char *name, const char *status, const char *error)
{
    const char *p[3] = {name, status, error};

    return pg_run(pg,
                  "UPDATE convoy.migrations SET status = $2, error = $3, updated_at = now(), "
                  "finished_at = CASE WHEN $2 IN ('done', 'aborted') THEN now() END "
                  "WHERE name = $1",
                  3, p, NULL) == PG_OK;
}

bool
state_audit(pg_t *pg, const audit_entry_t *e)
{
    char step[16], dur[32], rows[32];
    const char *p[10];

    snprintf(step, sizeof(step), "%d", e->step);
    snprintf(dur, sizeof(dur), "%lld", (long long)e->duration_ms);
    snprintf(rows, sizeof(rows), "%lld", (long long)e->rows);
    p[0] = e->migration;
    p[1] = e->step > 0 ? step : NULL;
    p[2] = state_actor();
    p[3] = e->action;
    p[4] = e->sql;
    p[5] = e->locks;
    p[6] = e->duration_ms >= 0 ? dur : NULL;
    p[7] = e->rows >= 0 ? rows : NULL;
    p[8] = e->outcome;
    p[9] = e->detail;
    if (pg_run(pg,
               "INSERT INTO convoy.audit (migration, step, actor, action, sql, locks, duration_ms, "
               "rows, outcome, detail) VALUES ($1, $2::int, $3, $4, $5, $6, $7::bigint, "
               "$8::bigint, $9, $10)",
               10, p, NULL) != PG_OK) {
        log_warn("could not write the audit log: %s", pg_errmsg(pg));
        return false;
    }
    return true;
}
