/*
 * verify.c: `convoy verify`: what the migration was meant to leave, checked on the primary
 * and on every replica, recorded (convoy.verifications) and audited.
 *
 * On the primary, for every column the file adds: it exists with the intended type, DEFAULT and
 * nullability, and no NULL is left where it is NOT NULL; on its table no convoy helper
 * (trigger, check constraint) is left, every constraint is validated and every index is
 * valid and ready. For a backfill whose expression is immutable, a random sample of rows is
 * recomputed. On each replica, once it has replayed the primary's position, each added
 * column must have the primary's type, nullability and DEFAULT, and a cheap aggregate (count
 * and an order-independent hash of each backfilled column) must match the primary's.
 */
#include "convoy/verify.h"

#include "convoy/log.h"
#include "convoy/migration.h"
#include "convoy/quote.h"
#include "convoy/runctl.h"
#include "convoy/state.h"
#include "convoy/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VERIFY_FULL_ROWS 1000000 /* up to this many rows every row is recomputed */

typedef struct {
    json_t *checks;
    bool ok;
    int failed;
} report_t;

static void check(report_t *r, const char *node, const char *what, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
check(report_t *r, const char *node, const char *what, bool ok, const char *fmt, ...)
{
    va_list ap;
    sb_t sb;

    sb_init(&sb);
    va_start(ap, fmt);
    sb_vprintf(&sb, fmt, ap);
    va_end(ap);
    json_array_append_new(r->checks, json_pack("{s:s, s:s, s:b, s:s}", "node", node, "check", what,
                                               "ok", ok, "detail", sb.data));
    if (!ok) {
        r->ok = false;
        r->failed++;
    }
    sb_free(&sb);
}

/* One value of a query with parameters, or NULL (and the error in *err when it failed). */
static char *
value(pg_t *pg, const char *sql, int n, const char *const *p, char **err)
{
    PGresult *res = NULL;
    char *v = NULL;

    if (pg_run(pg, sql, n, p, &res) != PG_OK) {
        if (err)
            *err = xstrdup(pg_errmsg(pg));
    } else if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0)) {
        v = xstrdup(PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return v;
}

/*
 * Checks one column the file adds (table and column as SQL names, a: its action, want: the
 * nullability the file leaves it).
 */
static void
check_added_column(report_t *r, pg_t *pg, const char *tbl, const action_t *a, column_null_t want)
{
    const char *p[3];
    PGresult *res = NULL;

    p[0] = tbl;
    p[1] = a->column;
    p[2] = a->type_sql;
    if (a->table_missing_ok) {
        /* ALTER TABLE IF EXISTS on a table that is not there: skipped, as psql skips it */
        char *exists = value(pg, "SELECT to_regclass($1)::text", 1, p, NULL);
        free(exists);
        if (exists == NULL)
            return;
    }
    if (pg_run(pg,
               "SELECT format_type(a.atttypid, a.atttypmod), a.attnotnull, "
               "a.atttypid = to_regtype($3) "
               "FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attname = $2 AND NOT "
               "a.attisdropped",
               3, p, &res) != PG_OK) {
        check(r, "primary", "column", false, "%s.%s: %s", tbl, a->column, pg_errmsg(pg));
        PQclear(res);
        return;
    }
    if (PQntuples(res) == 0) {
        check(r, "primary", "column", false, "%s has no column %s", tbl, a->column);
    } else {
        bool nn = PQgetvalue(res, 0, 1)[0] == 't';
        check(r, "primary", "column type", PQgetvalue(res, 0, 2)[0] == 't',
              "%s.%s is %s (file: %s)", tbl, a->column, PQgetvalue(res, 0, 0), a->type_sql);
        if (want != COLUMN_NULL_ANY)
            check(r, "primary", "nullability", nn == (want == COLUMN_NOT_NULL),
                  "%s.%s is %s (file: %s)", tbl, a->column, nn ? "NOT NULL" : "nullable",
                  want == COLUMN_NOT_NULL ? "NOT NULL" : "nullable");
    }
    PQclear(res);
}

/*
 * The column's DEFAULT against the file's. Both are compared as the server stores them
 * (pg_get_expr): the file's expression goes through a temporary table of the same type in a
 * transaction that is rolled back, so 'free' and 'free'::text compare equal. Serial, identity
 * and generated columns (their "default" is a sequence or an expression of their own) are
 * left out.
 */
static void
check_default(report_t *r, pg_t *pg, const char *tbl, const action_t *a, const char *want_sql)
{
    const char *p[2] = {tbl, a->column};
    char *err = NULL, *have, *want = NULL;

    if (a->is_serial)
        return;
    have = value(pg,
                 "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a ON "
                 "a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE d.adrelid = $1::regclass AND "
                 "a.attname = $2 AND a.attgenerated = ''",
                 2, p, &err);
    if (err == NULL && want_sql) {
        char *probe = xasprintf("BEGIN; CREATE TEMP TABLE convoy_verify_default (c %s DEFAULT %s)",
                                a->type_sql, want_sql);
        if (pg_exec(pg, probe) == PG_OK)
            want = value(pg,
                         "SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = "
                         "'pg_temp.convoy_verify_default'::regclass",
                         0, NULL, &err);
        else
            err = xstrdup(pg_errmsg(pg));
        pg_exec(pg, "ROLLBACK");
        free(probe);
    }
    if (err)
        check(r, "primary", "default", true, "%s.%s: DEFAULT not compared: %s", tbl, a->column,
              err);
    else
        check(r, "primary", "default",
              (have == NULL) == (want == NULL) && (have == NULL || strcmp(have, want) == 0),
              "%s.%s has %s%s (file: %s)", tbl, a->column, have ? "DEFAULT " : "no DEFAULT",
              have ? have : "", want ? want : "none");
    free(have);
    free(want);
    free(err);
}

/* Does the plan build this index, or validate this constraint? (Only those are ours to judge.) */
static bool
plan_owns(const plan_t *pl, const char *kind, const char *name)
{
    char *ident = ident_sql(name), *needle = xasprintf("VALIDATE CONSTRAINT %s", ident);
    bool owns = false;

    for (size_t i = 0; i < pl->n_steps && !owns; i++) {
        const step_t *s = &pl->steps[i];
        if (kind[0] == 'i')
            owns = s->kind == STEP_INDEX && s->index_name && strcmp(s->index_name, name) == 0;
        else
            owns = s->sql && strstr(s->sql, needle) != NULL;
    }
    free(needle);
    free(ident);
    return owns;
}

/*
 * Helpers left behind; constraints the plan validated that are not valid; indexes the plan
 * built that are not valid or not ready. (A NOT VALID constraint the file asked for, or an
 * old INVALID index of someone else's, is what psql would leave too.)
 */
static void
check_table(report_t *r, pg_t *pg, const plan_t *pl, const char *tbl)
{
    const char *p[1] = {tbl};
    PGresult *res = NULL;
    int bad = 0;

    {
        /* a table the file dropped or renamed, or a lock on something else: nothing to judge */
        char *exists = value(pg, "SELECT to_regclass($1)::text", 1, p, NULL);
        free(exists);
        if (exists == NULL)
            return;
    }
    if (pg_run(pg,
               "SELECT 'h', 'helper constraint ' || conname FROM pg_constraint WHERE conrelid = "
               "$1::regclass AND conname LIKE 'convoy\\_%' "
               /* a rename's sync trigger stays until its contract phase, on purpose */
               "UNION ALL SELECT 'h', 'helper trigger ' || tgname FROM pg_trigger g WHERE tgrelid "
               "= $1::regclass AND tgname LIKE 'convoy\\_%' AND coalesce(obj_description(g.oid, "
               "'pg_trigger'), '') NOT LIKE '{\"convoy\": \"rename\"%' "
               "UNION ALL SELECT 'c', conname FROM pg_constraint WHERE conrelid = $1::regclass "
               "AND NOT convalidated "
               "UNION ALL SELECT 'i', c.relname || CASE WHEN NOT x.indisvalid THEN ' INVALID' "
               "ELSE ' not-ready' END FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid "
               "WHERE x.indrelid = $1::regclass AND (NOT x.indisvalid OR NOT x.indisready)",
               1, p, &res) != PG_OK) {
        check(r, "primary", "table", false, "%s: %s", tbl, pg_errmsg(pg));
        PQclear(res);
        return;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        const char *k = PQgetvalue(res, i, 0), *v = PQgetvalue(res, i, 1);
        if (k[0] == 'h') {
            check(r, "primary", "helpers", false, "%s: %s is still in place", tbl, v);
            bad++;
        } else if (k[0] == 'c' && plan_owns(pl, "c", v)) {
            check(r, "primary", "constraints", false, "%s: constraint %s is NOT VALID", tbl, v);
            bad++;
        } else if (k[0] == 'i') {
            char *name = xstrndup(v, strcspn(v, " "));
            if (plan_owns(pl, "i", name)) {
                check(r, "primary", "indexes", false,
                      strstr(v, "INVALID") ? "%s: index %s is INVALID (its CREATE INDEX "
                                             "CONCURRENTLY failed: drop it and build it again)"
                                           : "%s: index %s is not ready",
                      tbl, name);
                bad++;
            }
            free(name);
        }
    }
    if (bad == 0)
        check(r, "primary", "objects", true,
              "%s: no convoy helper left; what the plan validated is valid; what it built is "
              "valid and ready",
              tbl);
    PQclear(res);
}

/* An immutable expression (a stored generated column accepts it) gives the same value again. */
static bool
expr_immutable(pg_t *pg, const step_t *s)
{
    char *sql = xasprintf("BEGIN; CREATE TEMP TABLE convoy_verify_probe (LIKE %s); ALTER TABLE "
                          "convoy_verify_probe ADD COLUMN convoy_g text GENERATED ALWAYS AS "
                          "((%s)::text) STORED",
                          s->table_sql, s->expr_sql);
    bool ok = pg_exec(pg, sql) == PG_OK;

    pg_exec(pg, "ROLLBACK");
    free(sql);
    return ok;
}

static void
check_backfill(report_t *r, pg_t *pg, const step_t *s, int sample)
{
    char *sql, *err = NULL, *v, lim[16];
    const char *p[1] = {lim};
    sb_t keys;

    if (s->set_sql || s->delete_rows || s->catchup)
        return;
    if (!expr_immutable(pg, s)) {
        check(r, "primary", "backfill sample", true,
              "%s = %s is not immutable (its value depends on when it ran): not recomputed",
              s->column_sql, s->expr_sql);
        return;
    }
    sb_init(&keys);
    for (size_t i = 0; i < s->n_keys; i++)
        sb_printf(&keys, "%s%s", i ? ", " : "", s->key_cols[i]);
    snprintf(lim, sizeof(lim), "%d", sample);
    /*
     * Every row of a table up to VERIFY_FULL_ROWS (one read-only scan, like the catch-up
     * pass); a random sample of `sample` rows of a larger one (BERNOULLI reads about that
     * many rows' worth of pages).
     */
    {
        const char *rp[1] = {s->table_sql};
        char *rt = value(pg, "SELECT reltuples::bigint FROM pg_class WHERE oid = $1::regclass", 1,
                         rp, NULL);
        long long rows = rt ? strtoll(rt, NULL, 10) : -1;
        free(rt);
        if (rows >= 0 && rows <= VERIFY_FULL_ROWS)
            snprintf(lim, sizeof(lim), "%d", 0);
    }
    {
        char *tsm = strcmp(lim, "0") == 0
                        ? xstrdup("")
                        : xasprintf("TABLESAMPLE BERNOULLI (least(100, greatest(0.01, 100.0 * "
                                    "$1::int / greatest(1, (SELECT reltuples FROM pg_class WHERE "
                                    "oid = '%s'::regclass)))))",
                                    s->table_sql);
        sql = xasprintf(
            "/* convoy verify */ WITH s AS (SELECT %s, %s AS v, (%s) AS want FROM %s %s LIMIT "
            "nullif($1::int, 0)) "
            "SELECT count(*) || ' ' || count(*) FILTER (WHERE v IS DISTINCT FROM want) || ' ' || "
            "coalesce(min(CASE WHEN v IS DISTINCT FROM want THEN (%s)::text END), '') FROM s",
            keys.data, s->column_sql, s->expr_sql, s->table_sql, tsm, keys.data);
        free(tsm);
    }
    v = value(pg, sql, 1, p, &err);
    if (v == NULL) {
        check(r, "primary", "backfill sample", false, "%s: %s", s->column_sql,
              err ? err : "no result");
    } else {
        long n = 0, bad = 0;
        int used = 0;
        sscanf(v, "%ld %ld %n", &n, &bad, &used);
        check(r, "primary", "backfill values", bad == 0,
              bad ? "%s: %ld of %ld %s rows differ from %s, e.g. the row with key %s"
                  : "%s: %ld of %ld %s rows differ from %s%s",
              s->column_sql, bad, n, strcmp(lim, "0") == 0 ? "(all)" : "sampled", s->expr_sql,
              bad ? v + used : "");
    }
    free(v);
    free(err);
    free(sql);
    sb_free(&keys);
}

/* count and an order-independent hash of the column: cheap, comparable across nodes. */
static char *
aggregate_sql(const step_t *s)
{
    return xasprintf("/* convoy verify */ SELECT count(*) || '/' || "
                     "coalesce(sum(hashtextextended(coalesce(%s::text, "
                     "'<null>'), 0)), 0) FROM %s",
                     s->column_sql, s->table_sql);
}

/*
 * "Used by application code as intended": the statements pg_stat_statements has seen that name
 * each added column (convoy's own DDL and batches left out), and the scans of each index the
 * plan built. Evidence for people, never a failure: a new column may not be used yet.
 */
static void
check_usage(report_t *r, pg_t *pg, const plan_t *pl, const migration_t *m)
{
    char *have = value(pg,
                       "SELECT count(*) > 0 FROM pg_extension WHERE extname = "
                       "'pg_stat_statements'",
                       0, NULL, NULL);
    bool pgss = have && have[0] == 't';

    free(have);
    if (!pgss) {
        check(r, "primary", "usage", true,
              "pg_stat_statements is not installed here: no evidence of which application "
              "queries use the change (shared_preload_libraries = 'pg_stat_statements' and "
              "CREATE EXTENSION pg_stat_statements give it)");
    }
    for (size_t i = 0; pgss && m && i < m->n_actions; i++) {
        const action_t *a = &m->actions[i];
        const char *p[1];
        PGresult *res = NULL;
        char *word;
        if (a->kind != ACT_ADD_COLUMN || a->column == NULL)
            continue;
        /* the column as a whole word; regex characters in its name are escaped */
        {
            sb_t w;
            sb_init(&w);
            sb_puts(&w, "\\m");
            for (const char *c = a->column; *c; c++) {
                if (strchr(".^$*+?()[]{}|\\", *c))
                    sb_putc(&w, '\\');
                sb_putc(&w, *c);
            }
            sb_puts(&w, "\\M");
            word = sb_steal(&w);
        }
        p[0] = word;
        /* not convoy's own: DDL, pre-checks, and the batches' key-range form */
        if (pg_run(pg,
                   "WITH s AS (SELECT query, calls FROM pg_stat_statements WHERE query ~* $1 AND "
                   "query !~* '^\\s*(alter|create|drop|comment|lock|set)\\M' AND query !~* "
                   "'select count\\(\\*\\) from|/\\* convoy' AND query !~ '\\) > \\(?\\$1\\)? "
                   "AND|ctid >= \\$1') "
                   "SELECT count(*), coalesce(sum(calls), 0), (SELECT left(query, 160) FROM s "
                   "ORDER BY calls DESC LIMIT 1) FROM s",
                   1, p, &res) == PG_OK &&
            PQntuples(res) == 1) {
            long n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
            if (n > 0)
                check(r, "primary", "usage", true,
                      "column %s: %ld application statement(s) in pg_stat_statements name it, "
                      "%s calls; the most called: `%s`",
                      a->column, n, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
            else
                check(r, "primary", "usage", true,
                      "column %s: no application statement in pg_stat_statements names it yet",
                      a->column);
        }
        PQclear(res);
        free(word);
    }
    for (size_t i = 0; i < pl->n_steps; i++) {
        const step_t *s = &pl->steps[i];
        const char *p[1] = {s->index_name};
        char *scans;
        if (s->kind != STEP_INDEX || s->index_name == NULL)
            continue;
        scans = value(pg,
                      "SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_user_indexes WHERE "
                      "indexrelname = $1",
                      1, p, NULL);
        check(r, "primary", "usage", true, "index %s: %s scan(s) since statistics were reset",
              s->index_name, scans ? scans : "?");
        free(scans);
    }
}

/* Waits up to wait_ms for the replica to replay `lsn`; true when it has. */
static bool
replayed(pg_t *rep, const char *lsn, int wait_ms)
{
    const char *p[1] = {lsn};

    for (int waited = 0;; waited += 100) {
        char *v = value(rep, "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", 1, p, NULL);
        bool done = v && v[0] == 't';
        free(v);
        if (done || waited >= wait_ms)
            return done;
        run_ctl_sleep(NULL, 100);
    }
}

/* A column as the catalog has it: "type[ NOT NULL][ DEFAULT expr]", or NULL when absent. */
static char *
column_signature(pg_t *pg, const char *tbl, const char *col, char **err)
{
    const char *p[2] = {tbl, col};

    return value(pg,
                 "SELECT format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' "
                 "NOT NULL' ELSE '' END || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, "
                 "d.adrelid), '') FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = "
                 "a.attrelid AND d.adnum = a.attnum WHERE a.attrelid = to_regclass($1) AND "
                 "a.attname = $2 AND NOT a.attisdropped",
                 2, p, err);
}

/*
 * Each column the file adds, on a replica that has replayed the primary's position: the same
 * type, nullability and DEFAULT as on the primary (a replica that stopped replaying before
 * the ADD COLUMN has no such column).
 */
static void
check_replica_columns(
    report_t *r, pg_t *primary, pg_t *rep, const char *rname, const migration_t *m)
{
    char *lsn = value(primary, "SELECT pg_current_wal_lsn()::text", 0, NULL, NULL);
    bool caught_up = lsn && replayed(rep, lsn, 5000);

    free(lsn);
    for (size_t i = 0; m && i < m->n_actions; i++) {
        const action_t *a = &m->actions[i];
        char *tbl, *want, *have, *err = NULL;
        if (a->kind != ACT_ADD_COLUMN || a->table.name == NULL || a->column == NULL)
            continue;
        tbl = qname_sql(&a->table);
        want = column_signature(primary, tbl, a->column, NULL);
        have = caught_up ? column_signature(rep, tbl, a->column, &err) : NULL;
        if (!caught_up)
            check(r, rname, "column", false,
                  "%s.%s: not compared: this replica had not replayed the primary's position in "
                  "5 s",
                  tbl, a->column);
        else if (have && want && strcmp(have, want) == 0)
            check(r, rname, "column", true, "%s.%s: %s, as on the primary", tbl, a->column, have);
        else if (have || want || err)
            check(r, rname, "column", false, "%s.%s: %s here, %s on the primary", tbl, a->column,
                  have  ? have
                  : err ? err
                        : "absent",
                  want ? want : "absent");
        free(tbl);
        free(want);
        free(have);
        free(err);
    }
}

#define AGG_ATTEMPTS 5

/*
 * Each attempt reads the primary's aggregate, then its WAL position, waits for the replica
 * to replay that position and reads the replica's. Equal: pass. A replica that cannot reach
 * the position, or differs from a primary whose aggregate held still: fail. A primary that
 * changed between every two attempts (the application writes the table) cannot be compared
 * this way: the check says so instead of guessing (the recomputed sample still judges the
 * values).
 */
static void
check_replica(report_t *r,
              pg_t *primary,
              const char *rname,
              const char *rconn,
              const plan_t *pl,
              const migration_t *m)
{
    char *err = NULL;
    pg_t *rep = pg_connect(rconn, &err);

    if (rep == NULL) {
        check(r, rname, "connect", false, "cannot connect: %s", err);
        free(err);
        return;
    }
    if (pl->search_path) {
        char *sp = xasprintf("SET search_path = %s", pl->search_path);
        pg_exec(rep, sp);
        free(sp);
    }
    check_replica_columns(r, primary, rep, rname, m);
    for (size_t i = 0; i < pl->n_steps; i++) {
        const step_t *s = &pl->steps[i];
        char *sql, *a = NULL, *b = NULL, *prev = NULL;
        bool caught_up = true, equal = false, moving = true;
        int attempts = 0;
        if (s->kind != STEP_BACKFILL || s->catchup || s->set_sql || s->delete_rows)
            continue;
        sql = aggregate_sql(s);
        while (attempts < AGG_ATTEMPTS && !equal) {
            char *lsn;
            free(prev);
            prev = a;
            free(b);
            b = NULL;
            attempts++;
            a = value(primary, sql, 0, NULL, NULL);
            lsn = value(primary, "SELECT pg_current_wal_lsn()::text", 0, NULL, NULL);
            caught_up = lsn && replayed(rep, lsn, 5000);
            free(lsn);
            if (!caught_up)
                break;
            b = value(rep, sql, 0, NULL, &err);
            equal = a && b && strcmp(a, b) == 0;
            if (prev && a && strcmp(prev, a) == 0)
                moving = false; /* the primary held still between two attempts */
            if (!equal)
                run_ctl_sleep(NULL, 200);
        }
        if (!equal && caught_up && moving && attempts == AGG_ATTEMPTS)
            check(r, rname, "aggregate", true,
                  "%s.%s: not compared: the table is being written (the primary's count/hash "
                  "changed between each of %d attempts; last %s on the primary, %s here)",
                  s->table_sql, s->column_sql, attempts, a ? a : "?", b ? b : "?");
        else
            check(r, rname, "aggregate", equal, "%s.%s: count/hash %s on the primary, %s here%s",
                  s->table_sql, s->column_sql, a ? a : "?", b ? b : (err ? err : "?"),
                  caught_up ? ""
                            : " (this replica had not replayed the primary's position in 5 s)");
        free(err);
        err = NULL;
        free(prev);
        free(a);
        free(b);
        free(sql);
    }
    pg_close(&rep);
}

static bool
record(pg_t *pg, const char *name, bool ok, json_t *checks)
{
    char *txt = json_dumps(checks, JSON_COMPACT);
    char nfail[16];
    const char *p[4] = {name, ok ? "true" : "false", txt, nfail};
    audit_entry_t a = {0};
    bool good;

    snprintf(nfail, sizeof(nfail), "%zu", json_array_size(checks));
    good = pg_run(pg,
                  "INSERT INTO convoy.verifications (migration, ok, report) VALUES ($1, "
                  "$2::boolean, $3::jsonb)",
                  3, p, NULL) == PG_OK;
    a.migration = name;
    a.action = "verify";
    a.outcome = ok ? "passed" : "failed";
    a.detail = txt;
    a.duration_ms = -1;
    a.rows = -1;
    good = state_audit(pg, &a) && good;
    free(txt);
    return good;
}

bool
engine_verify(const verify_req_t *req, bool *passed, json_t **checks_out, char **err)
{
    pg_t *pg = pg_connect(req->conninfo, err);
    report_t r = {json_array(), true, 0};
    plan_t pl = {0};
    char **status = NULL;
    migration_t m = {0};
    parse_error_t perr = {0};
    bool parsed = false;
    mig_row_t row = {0};
    bool found = false;
    char *source = NULL;

    *checks_out = NULL;
    if (pg == NULL) {
        json_decref(r.checks);
        return false;
    }
    state_set_actor(req->actor);
    if (!state_ensure_schema(pg, err) || !state_load_migration(pg, req->name, &row, &found) ||
        !found) {
        if (*err == NULL)
            *err = xasprintf("no migration named %s", req->name);
        goto fail;
    }
    if (!state_load_plan(pg, req->name, &pl, &status, err))
        goto fail;
    if (pl.search_path) {
        /* the file's SET search_path names its tables, as it did for every step */
        char *sp = xasprintf("SET search_path = %s", pl.search_path);
        pg_exec(pg, sp);
        free(sp);
    }
    check(&r, "primary", "status", row.status == MIG_DONE, "migration %s is %s", req->name,
          mig_status_name(row.status));
    {
        const char *p[1] = {req->name};
        source = value(pg, "SELECT source FROM convoy.migrations WHERE name = $1", 1, p, NULL);
        if (source == NULL && req->file)
            source = read_file(req->file, NULL);
        parsed = source && migration_parse(req->file ? req->file : req->name, source, &m, &perr);
    }
    if (parsed) {
        for (size_t i = 0; i < m.n_actions; i++) {
            const action_t *a = &m.actions[i];
            char *tbl;
            if (a->kind != ACT_ADD_COLUMN || a->table.name == NULL)
                continue;
            tbl = qname_sql(&a->table);
            check_added_column(&r, pg, tbl, a, migration_final_nullability(&m, i));
            check_default(&r, pg, tbl, a, migration_final_default(&m, i));
            free(tbl);
        }
    } else {
        check(&r, "primary", "columns", true,
              "the file's text is not stored with the migration (one-shot apply): column "
              "types and nullability not compared; give --file to compare them");
    }
    {
        /* every table the plan touched, once */
        char **seen = xcalloc(pl.n_steps + 1, sizeof(char *));
        size_t n_seen = 0;
        for (size_t i = 0; i < pl.n_steps; i++) {
            const char *t = pl.steps[i].table_sql ? pl.steps[i].table_sql
                            : pl.steps[i].n_locks ? pl.steps[i].locks[0].table
                                                  : NULL;
            bool dup = false;
            for (size_t k = 0; t && k < n_seen; k++)
                dup |= strcmp(seen[k], t) == 0;
            if (t && !dup) {
                seen[n_seen++] = (char *)t;
                check_table(&r, pg, &pl, t);
            }
            if (pl.steps[i].kind == STEP_BACKFILL)
                check_backfill(&r, pg, &pl.steps[i], req->sample > 0 ? req->sample : 1000);
        }
        free(seen);
    }
    check_usage(&r, pg, &pl, parsed ? &m : NULL);
    for (size_t i = 0; i < req->n_replicas; i++)
        check_replica(&r, pg, req->replica_names[i], req->replica_conninfos[i], &pl,
                      parsed ? &m : NULL);
    if (!record(pg, req->name, r.ok, r.checks))
        log_warn("recording the verification: %s", pg_errmsg(pg));
    *passed = r.ok;
    *checks_out = r.checks;
    r.checks = NULL;
    if (parsed)
        migration_free(&m);
    free(source);
    strv_free(status, pl.n_steps);
    plan_free(&pl);
    mig_row_free(&row);
    pg_close(&pg);
    return true;
fail:
    if (*err == NULL)
        *err = xstrdup(pg_errmsg(pg));
    json_decref(r.checks);
    if (parsed)
        migration_free(&m);
    free(source);
    strv_free(status, pl.n_steps);
    plan_free(&pl);
    mig_row_free(&row);
    pg_close(&pg);
    return false;
}
