/* state.c: the convoy schema: migrations, steps, checkpoints, leases and the audit log. */
#include "convoy/state.h"

#include "convoy/log.h"
#include "convoy/quote.h"
#include "convoy/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* per thread: the coordinator's driver and its HTTP threads each act for someone (no heap, so
 * nothing outlives a thread) */
static _Thread_local char actor_name[256];

/* Idempotent: creates version 2, or upgrades a version 1 schema in place. */
static const char schema_sql[] =
    "CREATE SCHEMA IF NOT EXISTS convoy;\n"
    "CREATE TABLE IF NOT EXISTS convoy.meta (key text PRIMARY KEY, value text NOT NULL);\n"
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
    "ALTER TABLE convoy.migrations ADD COLUMN IF NOT EXISTS settings jsonb;\n"
    "ALTER TABLE convoy.migrations ADD COLUMN IF NOT EXISTS file text;\n"
    /* version 3: the fleet. A coordinator drives migrations submitted for its cluster from
     * their stored source; a hold's reason and live overrides (convoy set) are kept here. */
    "ALTER TABLE convoy.migrations ADD COLUMN IF NOT EXISTS cluster text;\n"
    "ALTER TABLE convoy.migrations ADD COLUMN IF NOT EXISTS source text;\n"
    "ALTER TABLE convoy.migrations ADD COLUMN IF NOT EXISTS hold_reason text;\n"
    "ALTER TABLE convoy.migrations ADD COLUMN IF NOT EXISTS held_since timestamptz;\n"
    "ALTER TABLE convoy.migrations ADD COLUMN IF NOT EXISTS overrides jsonb NOT NULL DEFAULT "
    "'{}';\n"
    "ALTER TABLE convoy.migrations ADD COLUMN IF NOT EXISTS worst_lag_ms bigint;\n"
    /* the coordinator's heartbeat row: replicas report which seq they have replayed */
    "CREATE TABLE IF NOT EXISTS convoy.heartbeat (id int PRIMARY KEY CHECK (id = 1), seq bigint "
    "NOT NULL, written_at timestamptz NOT NULL DEFAULT clock_timestamp());\n"
    /* version 4: Redis invalidations, an outbox written in each backfill batch's own
     * transaction (so none is lost); a cache agent UNLINKs and confirms them */
    "CREATE TABLE IF NOT EXISTS convoy.invalidations (id bigserial PRIMARY KEY, migration text "
    "NOT NULL, step int NOT NULL, kind text NOT NULL CHECK (kind IN ('key', 'bump', 'purge')), "
    "keys text[] NOT NULL, created_at timestamptz NOT NULL DEFAULT clock_timestamp(), first_at "
    "timestamptz, confirmed_at timestamptz, removed bigint, attempts int NOT NULL DEFAULT 0, "
    "last_error text, agent text);\n"
    "CREATE INDEX IF NOT EXISTS invalidations_pending ON convoy.invalidations (id) WHERE "
    "confirmed_at IS NULL;\n"
    /* version 10: when the agent's transaction that did a row's first pass began (its now()):
     * first_at - claimed_at is the agent's own work on the row, created_at - claimed_at is
     * the wait for it (docs/fleet.md) */
    "ALTER TABLE convoy.invalidations ADD COLUMN IF NOT EXISTS claimed_at timestamptz;\n"
    /* version 9: each write to the outbox wakes the cache agents at once (they LISTEN on
     * convoy_outbox, agent/outbox.h); they still poll at every tick. One notification per
     * transaction, delivered at its commit. */
    "CREATE OR REPLACE FUNCTION convoy.outbox_notify() RETURNS trigger LANGUAGE plpgsql AS\n"
    "$$BEGIN PERFORM pg_notify('convoy_outbox', ''); RETURN NULL; END$$;\n"
    "CREATE OR REPLACE TRIGGER outbox_notify AFTER INSERT ON convoy.invalidations\n"
    "  FOR EACH STATEMENT EXECUTE FUNCTION convoy.outbox_notify();\n"
    /* a batch's keys (~700 kB for 60,000 keys) are compressed in the batch's transaction:
     * lz4 where the server has it costs ~0 ms where pglz costs ~25 ms per 200,000 keys */
    "DO $$BEGIN\n"
    "  IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND "
    "'lz4' = ANY (enumvals)) AND (SELECT attcompression FROM pg_attribute WHERE attrelid = "
    "'convoy.invalidations'::regclass AND attname = 'keys') IS DISTINCT FROM 'l' THEN\n"
    "    ALTER TABLE convoy.invalidations ALTER COLUMN keys SET COMPRESSION lz4;\n"
    "  END IF;\n"
    "END$$;\n"
    /* convoy verify's results; the gates (expand, contract) per migration */
    "CREATE TABLE IF NOT EXISTS convoy.verifications (id bigserial PRIMARY KEY, migration text "
    "NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp(), ok boolean NOT NULL, report "
    "jsonb NOT NULL);\n"
    "CREATE TABLE IF NOT EXISTS convoy.gates (migration text NOT NULL, gate text NOT NULL CHECK "
    "(gate IN ('expand', 'contract')), state text NOT NULL CHECK (state IN ('pending', 'open', "
    "'failed')), reasons jsonb NOT NULL DEFAULT '[]', updated_at timestamptz NOT NULL DEFAULT "
    "clock_timestamp(), PRIMARY KEY (migration, gate));\n"
    /* app versions' query corpora checked against the schema (convoy compat, app agents) */
    "CREATE TABLE IF NOT EXISTS convoy.compat (id bigserial PRIMARY KEY, migration text NOT "
    "NULL, version text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp(), ok boolean "
    "NOT NULL, report jsonb NOT NULL);\n"
    /* what the coordinator sees of each node, refreshed while it runs (for convoy status) */
    "CREATE TABLE IF NOT EXISTS convoy.fleet (cluster text NOT NULL, node text NOT NULL, role "
    "text NOT NULL, state text NOT NULL, lag_ms bigint, lag_bytes bigint, replay_lsn pg_lsn, "
    "detail text, coordinator text NOT NULL, seen_at timestamptz NOT NULL DEFAULT now(), PRIMARY "
    "KEY (cluster, node));\n"
    /* version 8: what each app node runs, and since when (the contract gate) */
    "ALTER TABLE convoy.fleet ADD COLUMN IF NOT EXISTS app_version text;\n"
    "ALTER TABLE convoy.fleet ADD COLUMN IF NOT EXISTS version_since timestamptz;\n"
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
    "ALTER TABLE convoy.audit ADD COLUMN IF NOT EXISTS token bigint;\n"
    /* Version 1 leases expired by time and reused tokens: replace the table. */
    "DO $$BEGIN IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = "
    "to_regclass('convoy.lease') AND attname = 'expires_at') THEN DROP TABLE convoy.lease; "
    "END IF; END$$;\n"
    /* Tokens come from a sequence: they never repeat, whatever happens to the lease rows. */
    "CREATE SEQUENCE IF NOT EXISTS convoy.fencing_token;\n"
    "CREATE SEQUENCE IF NOT EXISTS convoy.lease_lock_key MAXVALUE 2147483647;\n"
    "CREATE TABLE IF NOT EXISTS convoy.lease (\n"
    "  migration text PRIMARY KEY,\n"
    "  lock_key int NOT NULL UNIQUE DEFAULT nextval('convoy.lease_lock_key'),\n"
    "  token bigint,\n"
    "  holder text,\n"
    "  backend_pid int,\n"
    "  acquired_at timestamptz,\n"
    "  renewed_at timestamptz,\n"
    "  released_at timestamptz);\n"
    "CREATE OR REPLACE FUNCTION convoy.fence(m text, t bigint) RETURNS boolean\n"
    "LANGUAGE plpgsql STABLE AS $$BEGIN\n"
    "  IF NOT EXISTS (SELECT 1 FROM convoy.lease WHERE migration = m AND token = t) THEN\n"
    "    RAISE EXCEPTION 'convoy: the lease of migration % was taken over (token % is no "
    "longer current)', m, t USING ERRCODE = 'CV001';\n"
    "  END IF;\n"
    "  RETURN true;\n"
    "END$$;\n"
    "CREATE OR REPLACE FUNCTION convoy.audit_append_only() RETURNS trigger LANGUAGE plpgsql AS\n"
    "$$BEGIN RAISE EXCEPTION 'convoy.audit is append-only'; END$$;\n"
    "DROP TRIGGER IF EXISTS audit_append_only ON convoy.audit;\n"
    "CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON convoy.audit\n"
    "  FOR EACH ROW EXECUTE FUNCTION convoy.audit_append_only();\n"
    "DROP TRIGGER IF EXISTS audit_no_truncate ON convoy.audit;\n"
    "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON convoy.audit\n"
    "  FOR EACH STATEMENT EXECUTE FUNCTION convoy.audit_append_only();\n"
    "INSERT INTO convoy.meta VALUES ('schema_version', '" STATE_STR(
        STATE_SCHEMA_VERSION) "')\n"
                              "  ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;\n";

void
state_set_actor(const char *actor)
{
    snprintf(actor_name, sizeof(actor_name), "%s", actor ? actor : "");
}

const char *
state_actor(void)
{
    return actor_name[0] ? actor_name : "convoy";
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
    char *v = pg_value(pg,
                       "SELECT CASE WHEN to_regclass('convoy.meta') IS NOT NULL THEN "
                       "(SELECT value FROM convoy.meta WHERE key = 'schema_version') END",
                       0, NULL);
    bool ready = v && strcmp(v, STATE_STR(STATE_SCHEMA_VERSION)) == 0;
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
        bool denied = strcmp(pg_sqlstate(pg), "42501") == 0;
        *err = xasprintf("creating the convoy schema: %s%s", pg_errmsg(pg),
                         denied ? " (this role may not change it: an administrator runs `convoy "
                                  "init --role ROLE` once, then convoy runs as ROLE)"
                                : "");
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
        if (!mig_status_parse(PQgetvalue(r, 0, 2), &out->status))
            out->status = MIG_FAILED;
        out->current_step = (int)strtol(PQgetvalue(r, 0, 3), NULL, 10);
        out->n_steps = (int)strtol(PQgetvalue(r, 0, 4), NULL, 10);
    }
    PQclear(r);
    return true;
}

bool
state_create_migration(pg_t *pg,
                       const char *name,
                       const char *checksum,
                       const plan_t *plan,
                       int64_t token,
                       const char *file)
{
    char n_steps[16], tok[32];
    json_t *settings = plan_settings_encode(plan);
    char *settings_s = json_dumps(settings, JSON_COMPACT);
    const char *p[7] = {name, checksum, n_steps, state_actor(), tok, settings_s, file};
    bool ok = false;

    json_decref(settings);
    snprintf(n_steps, sizeof(n_steps), "%zu", plan->n_steps);
    snprintf(tok, sizeof(tok), "%lld", (long long)token);
    if (pg_exec(pg, "BEGIN") != PG_OK)
        goto done;
    if (pg_run(
            pg,
            "WITH m AS (INSERT INTO convoy.migrations (name, checksum, status, n_steps, "
            "started_by, settings, file) SELECT $1, $2, 'submitted', $3::int, $4, $6::jsonb, $7 "
            "WHERE " FENCE_SQL(
                1, 5) " RETURNING 1) "
                      "INSERT INTO convoy.audit (migration, actor, action, outcome, detail, token) "
                      "SELECT $1, $4, 'submit', 'submitted', $7, $5::bigint FROM m",
            7, p, NULL) != PG_OK)
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
    free(settings_s);
    return ok;
}

bool
state_load_plan(pg_t *pg, const char *name, plan_t *plan, char ***status_out, char **err)
{
    const char *p[1] = {name};
    PGresult *r = NULL;
    int n;
    char **status;
    const char *why = NULL;
    json_error_t jerr;
    json_t *settings;
    char *s;

    memset(plan, 0, sizeof(*plan));
    *status_out = NULL;
    s = pg_value(pg, "SELECT settings::text FROM convoy.migrations WHERE name = $1", 1, p);
    settings = s ? json_loads(s, 0, &jerr) : NULL;
    free(s);
    if (settings == NULL || !plan_settings_decode(settings, plan, &why)) {
        *err = xasprintf("the stored settings of migration %s are unreadable (%s)", name,
                         why ? why : "missing: it was started by a convoy older than 0.2");
        json_decref(settings);
        return false;
    }
    json_decref(settings);
    plan->name = xstrdup(name);
    if (pg_run(pg, "SELECT spec::text, status FROM convoy.steps WHERE migration = $1 ORDER BY n", 1,
               p, &r) != PG_OK) {
        *err = xasprintf("reading the stored plan: %s", pg_errmsg(pg));
        return false;
    }
    n = PQntuples(r);
    plan->steps = xcalloc((size_t)(n ? n : 1), sizeof(step_t));
    status = xcalloc((size_t)(n ? n : 1), sizeof(char *));
    *status_out = status;
    for (int i = 0; i < n; i++) {
        json_t *o = json_loads(PQgetvalue(r, i, 0), 0, &jerr);
        bool ok = o && plan_step_decode(o, &plan->steps[i], &why);
        json_decref(o);
        status[i] = xstrdup(PQgetvalue(r, i, 1));
        plan->n_steps = (size_t)i + (ok ? 1 : 0);
        if (!ok) {
            *err = xasprintf("stored step %d of migration %s is unreadable (%s)", i + 1, name,
                             why ? why : "not JSON");
            for (int k = i + 1; k < n; k++)
                status[k] = NULL;
            PQclear(r);
            return false;
        }
    }
    PQclear(r);
    return true;
}

bool
state_mark_step(pg_t *pg,
                const char *name,
                int64_t token,
                int n,
                const char *status,
                int64_t duration_ms,
                int64_t rows,
                const char *error)
{
    char num[16], dur[32], rws[32], tok[32];
    const char *p[7] = {name,  num, status, duration_ms >= 0 ? dur : NULL, rows >= 0 ? rws : NULL,
                        error, tok};

    snprintf(num, sizeof(num), "%d", n);
    snprintf(dur, sizeof(dur), "%lld", (long long)duration_ms);
    snprintf(rws, sizeof(rws), "%lld", (long long)rows);
    snprintf(tok, sizeof(tok), "%lld", (long long)token);
    return pg_run(
               pg,
               "WITH s AS (UPDATE convoy.steps SET status = $3, attempts = attempts + "
               "(CASE WHEN $3 = 'running' THEN 1 ELSE 0 END), "
               "started_at = CASE WHEN $3 = 'running' THEN now() ELSE coalesce(started_at, now()) "
               "END, "
               "finished_at = CASE WHEN $3 IN ('done', 'failed', 'blocked') THEN "
               "clock_timestamp() END, duration_ms = $4::bigint, rows = $5::bigint, error = $6 "
               "WHERE migration = $1 AND n = $2::int AND " FENCE_SQL(
                   1, 7) " RETURNING 1) "
                         "UPDATE convoy.migrations SET current_step = $2::int, updated_at = now() "
                         "WHERE name = $1 AND EXISTS (SELECT 1 FROM s)",
               7, p, NULL) == PG_OK;
}

bool
state_reset_backfill(pg_t *pg, const char *name, int64_t token, int n)
{
    char num[16], tok[32];
    const char *p[3] = {name, num, tok};

    snprintf(num, sizeof(num), "%d", n);
    snprintf(tok, sizeof(tok), "%lld", (long long)token);
    return pg_run(pg,
                  "DELETE FROM convoy.backfill WHERE migration = $1 AND step = $2::int AND "
                  "" FENCE_SQL(1, 3),
                  3, p, NULL) == PG_OK;
}

bool
state_status(pg_t *pg, const char *name, mig_status_t *out)
{
    const char *p[1] = {name};
    char *v = pg_value(pg, "SELECT status FROM convoy.migrations WHERE name = $1", 1, p);
    bool ok = v && mig_status_parse(v, out);
    free(v);
    return ok;
}

transition_result_t
state_transition(pg_t *pg,
                 const char *name,
                 int64_t token,
                 mig_event_t event,
                 const char *detail,
                 mig_status_t *to)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        mig_status_t from;
        const fsm_edge_t *e;
        char tok[32];
        const char *p[7];
        PGresult *r = NULL;
        bool changed;

        if (!state_status(pg, name, &from))
            return pg_sqlstate(pg)[0] && strcmp(pg_sqlstate(pg), "00000") != 0 ? TR_ERROR
                                                                               : TR_MISSING;
        *to = from;
        e = fsm_edge(from, event);
        if (e == NULL)
            return TR_NO_EDGE;
        if (!e->by_operator && token <= 0)
            return TR_FENCED;
        snprintf(tok, sizeof(tok), "%lld", (long long)token);
        p[0] = name;
        p[1] = mig_status_name(from);
        p[2] = mig_status_name(e->to);
        p[3] = mig_event_name(event);
        p[4] = detail;
        p[5] = e->by_operator ? NULL : tok;
        p[6] = state_actor();
        if (pg_run(pg,
                   "WITH u AS (UPDATE convoy.migrations SET status = $3, updated_at = now(), "
                   "error = CASE WHEN $3 IN ('failed', 'blocked') THEN $5 END, "
                   "finished_at = CASE WHEN $3 IN ('done', 'aborted') THEN now() END "
                   "WHERE name = $1 AND status = $2 AND ($6::bigint IS NULL OR " FENCE_SQL(
                       1, 6) ") RETURNING 1), "
                             "a AS (INSERT INTO convoy.audit (migration, actor, action, "
                             "outcome, detail, token) SELECT $1, $7, $4, $2 || ' -> ' || $3, "
                             "$5, $6::bigint FROM u RETURNING 1) "
                             /* a coordinator LISTENs: requests take effect at once */
                             "SELECT 1 FROM a, LATERAL (SELECT pg_notify('convoy', $4 || ' ' "
                             "|| $1)) n",
                   7, p, &r) != PG_OK)
            return strcmp(pg_sqlstate(pg), "CV001") == 0 ? TR_FENCED : TR_ERROR;
        changed = PQntuples(r) == 1;
        PQclear(r);
        if (changed) {
            *to = e->to;
            log_debug("migration %s: %s -> %s (%s)", name, p[1], p[2], p[3]);
            return TR_OK;
        }
        /* the status changed between the read and the update: look again */
    }
    return TR_ERROR;
}

bool
state_audit(pg_t *pg, const audit_entry_t *e)
{
    char step[16], dur[32], rows[32], tok[32];
    const char *p[11];

    snprintf(step, sizeof(step), "%d", e->step);
    snprintf(dur, sizeof(dur), "%lld", (long long)e->duration_ms);
    snprintf(rows, sizeof(rows), "%lld", (long long)e->rows);
    snprintf(tok, sizeof(tok), "%lld", (long long)e->token);
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
    p[10] = e->token > 0 ? tok : NULL;
    if (pg_run(pg,
               "INSERT INTO convoy.audit (migration, step, actor, action, sql, locks, duration_ms, "
               "rows, outcome, detail, token) VALUES ($1, $2::int, $3, $4, $5, $6, $7::bigint, "
               "$8::bigint, $9, $10, $11::bigint)",
               11, p, NULL) != PG_OK) {
        log_warn("could not write the audit log: %s", pg_errmsg(pg));
        return false;
    }
    return true;
}

bool
state_set_source(pg_t *pg, const char *name, int64_t token, const char *cluster, const char *source)
{
    char tok[32];
    const char *p[4] = {name, tok, cluster, source};

    snprintf(tok, sizeof(tok), "%lld", (long long)token);
    return pg_run(pg,
                  "UPDATE convoy.migrations SET cluster = $3, source = $4 WHERE name = $1 "
                  "AND " FENCE_SQL(1, 2),
                  4, p, NULL) == PG_OK;
}

bool
state_set_hold(pg_t *pg, const char *name, int64_t token, const char *reason)
{
    char tok[32];
    const char *p[3] = {name, tok, reason};

    snprintf(tok, sizeof(tok), "%lld", (long long)token);
    return pg_run(pg,
                  "UPDATE convoy.migrations SET hold_reason = $3::text, held_since = CASE WHEN "
                  "$3::text IS "
                  "NULL THEN NULL ELSE coalesce(held_since, now()) END, updated_at = now() WHERE "
                  "name = $1 AND " FENCE_SQL(1, 2),
                  3, p, NULL) == PG_OK;
}

bool
state_set_override(pg_t *pg, const char *name, const char *key, const char *value)
{
    const char *p[4] = {name, key, value, state_actor()};
    PGresult *r = NULL;
    bool ok;

    if (pg_run(pg,
               "WITH m AS (UPDATE convoy.migrations SET overrides = overrides || "
               "jsonb_build_object($2::text, $3::text) WHERE name = $1 RETURNING 1), "
               "a AS (INSERT INTO convoy.audit (migration, actor, action, outcome, detail) "
               "SELECT $1, $4, 'set', 'applied', $2 || '=' || $3 FROM m RETURNING 1) "
               "SELECT (SELECT count(*) FROM m), pg_notify('convoy', 'set ' || $1)",
               4, p, &r) != PG_OK)
        return false;
    ok = strcmp(PQgetvalue(r, 0, 0), "1") == 0;
    PQclear(r);
    return ok;
}

bool
state_outbox_add(
    pg_t *pg, const char *name, int64_t token, const char *kind, char **keys, size_t n_keys)
{
    char tok[32];
    sb_t arr;
    const char *p[4];
    bool ok;

    if (n_keys == 0)
        return true;
    /* a text[] literal, each element double-quoted with " and \ escaped: a parameter */
    sb_init(&arr);
    sb_putc(&arr, '{');
    for (size_t i = 0; i < n_keys; i++) {
        sb_puts(&arr, i ? ",\"" : "\"");
        for (const char *c = keys[i]; *c; c++) {
            if (*c == '"' || *c == '\\')
                sb_putc(&arr, '\\');
            sb_putc(&arr, *c);
        }
        sb_putc(&arr, '"');
    }
    sb_putc(&arr, '}');
    snprintf(tok, sizeof(tok), "%lld", (long long)token);
    p[0] = name;
    p[1] = tok;
    p[2] = kind;
    p[3] = arr.data;
    ok = pg_run(pg,
                "INSERT INTO convoy.invalidations (migration, step, kind, keys) SELECT $1, 0, $3, "
                "$4::text[] WHERE " FENCE_SQL(1, 2),
                4, p, NULL) == PG_OK;
    sb_free(&arr);
    return ok;
}

bool
state_init_owner(pg_t *pg, const char *runner, char **err)
{
    char *r = ident_sql(runner);
    sb_t sb;
    bool ok;

    sb_init(&sb);
    sb_puts(&sb,
            "BEGIN;\n"
            "DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = "
            "'convoy_owner') THEN CREATE ROLE convoy_owner NOLOGIN; END IF; END$$;\n"
            "CREATE SCHEMA IF NOT EXISTS convoy AUTHORIZATION convoy_owner;\n"
            "ALTER SCHEMA convoy OWNER TO convoy_owner;\n"
            /* what an earlier convoy created as the runner becomes the owner's (the functions:
             * every one schema_sql creates) */
            "DO $$DECLARE o record; BEGIN\n"
            "  FOR o IN SELECT c.oid::regclass AS r FROM pg_class c WHERE c.relnamespace = "
            "'convoy'::regnamespace AND c.relkind IN ('r', 'S', 'v', 'p') AND NOT EXISTS (SELECT 1 "
            "FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid "
            "AND d.deptype IN ('a', 'i')) LOOP\n"
            "    EXECUTE format('ALTER TABLE %s OWNER TO convoy_owner', o.r);\n"
            "  END LOOP;\n"
            "  FOR o IN SELECT p.oid::regprocedure AS f FROM pg_proc p WHERE p.pronamespace "
            "= 'convoy'::regnamespace AND p.proname IN ('fence', 'audit_append_only', "
            "'outbox_notify') LOOP\n"
            "    EXECUTE format('ALTER FUNCTION %s OWNER TO convoy_owner', o.f);\n"
            "  END LOOP;\n"
            "END$$;\n"
            "SET LOCAL ROLE convoy_owner;\n");
    /* everything but the first line (CREATE SCHEMA, done above as the administrator) */
    sb_puts(&sb, strchr(schema_sql, '\n') + 1);
    sb_puts(&sb, "RESET ROLE;\n");
    sb_printf(&sb,
              "GRANT USAGE, CREATE ON SCHEMA convoy TO %s;\n"
              "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA convoy TO %s;\n"
              /* the audit log: insert and read, never change or remove */
              "REVOKE UPDATE, DELETE, TRUNCATE ON convoy.audit FROM %s, PUBLIC;\n"
              "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA convoy TO %s;\n"
              "GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA convoy TO %s;\n"
              "COMMIT;",
              r, r, r, r, r);
    ok = pg_exec(pg, sb.data) == PG_OK;
    if (!ok) {
        *err = xasprintf("convoy init: %s", pg_errmsg(pg));
        pg_exec(pg, "ROLLBACK");
    }
    sb_free(&sb);
    free(r);
    return ok;
}
