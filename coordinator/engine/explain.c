/* explain.c: the EXPLAIN review: top pg_stat_statements statements planned before and after. */
#include "convoy/explain.h"

#include "convoy/log.h"
#include "convoy/plandiff.h"
#include "convoy/quote.h"
#include "convoy/util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* How many of pg_stat_statements' heaviest entries are read to find the top N that touch the
 * tables (each is parsed in memory; the rest are never read). */
#define EXPLAIN_SCAN_LIMIT "1000"
#define EXPLAIN_STMT_NAME  "convoy_explain_stmt"

static int
top_of(const explain_opts_t *o)
{
    return o->top > 0 ? o->top : EXPLAIN_DEFAULT_TOP;
}

static double
threshold_of(const explain_opts_t *o)
{
    return o->threshold_pct >= 0 ? o->threshold_pct : PLANDIFF_DEFAULT_THRESHOLD_PCT;
}

static int64_t
timeout_of(const explain_opts_t *o)
{
    return o->statement_timeout_ms > 0 ? o->statement_timeout_ms
                                       : EXPLAIN_DEFAULT_STATEMENT_TIMEOUT_MS;
}

bool
explain_session_read_only(pg_t *pg, const explain_opts_t *o, char **err)
{
    char *sql = xasprintf(
        "SET default_transaction_read_only = on; SET statement_timeout = %" PRId64, timeout_of(o));
    bool ok = pg_exec(pg, sql) == PG_OK;

    free(sql);
    if (!ok) {
        *err = xasprintf("making the session read-only: %s", pg_errmsg(pg));
        return false;
    }
    /* convoy's own catalog reads stay out of pg_stat_statements where it may say so (a
     * superuser's setting; anyone else's statements are simply recorded) */
    if (pg_exec(pg, "SET pg_stat_statements.track = none") != PG_OK)
        log_debug("explain: pg_stat_statements.track stays: %s", pg_errmsg(pg));
    return true;
}

/* Runs sql in a savepoint; on failure rolls back to it and returns the message (caller frees). */
static char *
in_savepoint(pg_t *pg, const char *sql, int n, const char *const *params, PGresult **res)
{
    char *e = NULL;

    if (pg_exec(pg, "SAVEPOINT convoy_explain") != PG_OK)
        return xstrdup(pg_errmsg(pg));
    if (pg_run(pg, sql, n, params, res) != PG_OK) {
        e = xstrdup(pg_errmsg(pg));
        pg_exec(pg, "ROLLBACK TO SAVEPOINT convoy_explain");
    }
    pg_exec(pg, "RELEASE SAVEPOINT convoy_explain");
    return e;
}

/* The schema an extension is installed in, or NULL (and its version in *version). */
static char *
extension_schema(pg_t *pg, const char *ext, char **version)
{
    const char *p[1] = {ext};
    PGresult *r = NULL;
    char *schema = NULL;

    if (pg_run(pg,
               "SELECT n.nspname, e.extversion FROM pg_extension e JOIN pg_namespace n ON n.oid = "
               "e.extnamespace WHERE e.extname = $1",
               1, p, &r) == PG_OK &&
        PQntuples(r) == 1) {
        schema = xstrdup(PQgetvalue(r, 0, 0));
        if (version)
            *version = xstrdup(PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    return schema;
}

typedef struct {
    char **schema, **name;
    size_t n;
} tables_t;

static void
tables_add(tables_t *t, const char *schema, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->schema[i], schema) == 0 && strcmp(t->name[i], name) == 0)
            return;
    t->schema = xrealloc(t->schema, (t->n + 1) * sizeof(char *));
    t->name = xrealloc(t->name, (t->n + 1) * sizeof(char *));
    t->schema[t->n] = xstrdup(schema);
    t->name[t->n] = xstrdup(name);
    t->n++;
}

static void
tables_free(tables_t *t)
{
    strv_free(t->schema, t->n);
    strv_free(t->name, t->n);
}

/* Resolves a relation (or, with of_index, an index's table) the way the server names it. */
static bool
resolve_table(pg_t *pg, const qname_t *q, bool of_index, tables_t *t)
{
    char *qn = qname_sql(q);
    const char *p[1] = {qn};
    PGresult *r = NULL;
    bool ok = pg_run(pg,
                     of_index ? "SELECT n.nspname, c.relname FROM pg_index i JOIN pg_class c ON "
                                "c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                                "WHERE i.indexrelid = to_regclass($1)"
                              : "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n "
                                "ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)",
                     1, p, &r) == PG_OK;

    if (ok && PQntuples(r) == 1)
        tables_add(t, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
    PQclear(r);
    free(qn);
    return ok;
}

/* The tables the migration changes: its actions' tables and its dropped indexes' tables. */
static bool
changed_tables(pg_t *pg, const migration_t *m, const plan_t *plan, tables_t *t)
{
    for (size_t i = 0; i < m->n_actions; i++) {
        const action_t *a = &m->actions[i];
        if (a->kind == ACT_IGNORE || a->kind == ACT_REFUSE || a->kind == ACT_SET_HONOURED ||
            a->table.name == NULL || a->table_is_new)
            continue;
        if (!resolve_table(pg, &a->table, a->kind == ACT_DROP_INDEX, t))
            return false;
    }
    for (size_t i = 0; i < plan->n_steps; i++) {
        const step_t *s = &plan->steps[i];
        qname_t q = {s->index_schema, s->index_name};
        if (s->kind == STEP_DROP_INDEX && s->index_name && !resolve_table(pg, &q, true, t))
            return false;
    }
    return true;
}

static bool
begin_read_only(pg_t *pg, const migration_t *m, const explain_opts_t *o, char **err)
{
    char *sql = xasprintf("BEGIN TRANSACTION READ ONLY; SET LOCAL statement_timeout = %" PRId64
                          "; SET LOCAL plan_cache_mode = force_generic_plan",
                          timeout_of(o));
    bool ok = pg_exec(pg, sql) == PG_OK;

    free(sql);
    if (!ok) {
        *err = xasprintf("starting the read-only transaction: %s", pg_errmsg(pg));
        return false;
    }
    if (m->search_path) {
        /* the file's SET search_path: names resolve as they will when it runs */
        sql = xasprintf("SET LOCAL search_path = %s", m->search_path);
        ok = pg_exec(pg, sql) == PG_OK;
        free(sql);
        if (!ok) {
            *err = xasprintf("the file's SET search_path failed: %s", pg_errmsg(pg));
            pg_exec(pg, "ROLLBACK");
        }
    }
    return ok;
}

/* explain_statements inside an open transaction. */
static bool
statements_in_txn(pg_t *pg,
                  const migration_t *m,
                  const plan_t *plan,
                  const explain_opts_t *o,
                  json_t **stmts,
                  json_t *tables_out,
                  char **why,
                  char **err)
{
    tables_t t = {0};
    plandiff_table_t *pt = NULL;
    char *pss = NULL, *sql = NULL, *e = NULL;
    PGresult *r = NULL;
    bool ok = false;
    int top = top_of(o);

    *stmts = json_array();
    *why = NULL;
    if (!changed_tables(pg, m, plan, &t)) {
        *err = xasprintf("resolving the migration's tables: %s", pg_errmsg(pg));
        goto done;
    }
    pss = extension_schema(pg, "pg_stat_statements", NULL);
    if (pss == NULL) {
        *why = xstrdup("pg_stat_statements is not installed in this database (it needs "
                       "shared_preload_libraries = 'pg_stat_statements' and CREATE EXTENSION "
                       "pg_stat_statements, by an administrator)");
        ok = true;
        goto done;
    }
    if (t.n == 0) {
        *why = xstrdup("the migration changes no existing table");
        ok = true;
        goto done;
    }
    {
        qname_t q = {pss, "pg_stat_statements"};
        char *view = qname_sql(&q);
        sql = xasprintf("SELECT queryid::text, query, calls::text, total_exec_time, "
                        "mean_exec_time FROM %s WHERE dbid = (SELECT oid FROM pg_database WHERE "
                        "datname = current_database()) AND query IS NOT NULL AND query !~ "
                        "'^\\s*/\\* convoy' ORDER BY "
                        "total_exec_time DESC LIMIT " EXPLAIN_SCAN_LIMIT,
                        view);
        free(view);
    }
    e = in_savepoint(pg, sql, 0, NULL, &r);
    if (e != NULL) {
        /* installed but not preloaded, or not readable by this role */
        *why = xasprintf("pg_stat_statements cannot be read: %s", e);
        ok = true;
        goto done;
    }
    pt = xcalloc(t.n, sizeof(plandiff_table_t));
    for (size_t i = 0; i < t.n; i++) {
        pt[i].schema = t.schema[i];
        pt[i].name = t.name[i];
    }
    for (int i = 0; i < PQntuples(r) && (int)json_array_size(*stmts) < top; i++) {
        const char *qid = PQgetvalue(r, i, 0);
        bool touches = false, dup = false;
        char *dep = NULL;
        size_t k;
        json_t *s;

        json_array_foreach(*stmts, k, s) dup |=
            strcmp(json_string_value(json_object_get(s, "queryid")), qid) == 0;
        if (dup ||
            plandiff_stmt_touches(PQgetvalue(r, i, 1), pt, t.n, &touches, &dep) !=
                PLANDIFF_STMT_DML ||
            !touches) {
            free(dep);
            continue;
        }
        s = json_pack(
            "{s:s, s:s, s:s, s:I, s:f, s:f}", "queryid", qid, "query", PQgetvalue(r, i, 1), "sql",
            dep, "calls", (json_int_t)strtoll(PQgetvalue(r, i, 2), NULL, 10), "total_exec_ms",
            strtod(PQgetvalue(r, i, 3), NULL), "mean_exec_ms", strtod(PQgetvalue(r, i, 4), NULL));
        json_array_append_new(*stmts, s);
        free(dep);
    }
    ok = true;
done:
    if (ok && tables_out != NULL)
        for (size_t i = 0; i < t.n; i++)
            json_array_append_new(tables_out, json_sprintf("%s.%s", t.schema[i], t.name[i]));
    PQclear(r);
    free(pt);
    free(pss);
    free(sql);
    free(e);
    tables_free(&t);
    return ok;
}

bool
explain_statements(pg_t *pg,
                   const migration_t *m,
                   const plan_t *plan,
                   const explain_opts_t *o,
                   json_t **stmts,
                   char **why,
                   char **err)
{
    bool ok;

    *stmts = NULL;
    *why = NULL;
    if (!begin_read_only(pg, m, o, err))
        return false;
    ok = statements_in_txn(pg, m, plan, o, stmts, NULL, why, err);
    pg_exec(pg, "ROLLBACK");
    if (!ok) {
        json_decref(*stmts);
        *stmts = NULL;
    }
    return ok;
}

static void
deallocate(pg_t *pg)
{
    char *have = pg_value(pg, "SELECT 1 FROM pg_prepared_statements WHERE name = $1", 1,
                          (const char *const[]){EXPLAIN_STMT_NAME});
    if (have != NULL)
        pg_exec(pg, "DEALLOCATE " EXPLAIN_STMT_NAME);
    free(have);
}

/* One statement's generic plan: PREPARE, EXECUTE with a NULL for each parameter (a generic
 * plan never looks at them), DEALLOCATE. The plan, or {"error": ...}. */
static json_t *
plan_one(pg_t *pg, const char *sql)
{
    char *prep = xasprintf("PREPARE " EXPLAIN_STMT_NAME " AS %s", sql), *e, *n = NULL;
    PGresult *r = NULL;
    json_t *out = NULL;

    e = in_savepoint(pg, prep, 0, NULL, NULL);
    free(prep);
    if (e == NULL) {
        n = pg_value(pg,
                     "SELECT cardinality(parameter_types) FROM pg_prepared_statements WHERE "
                     "name = $1",
                     1, (const char *const[]){EXPLAIN_STMT_NAME});
        if (n == NULL) {
            e = xasprintf("reading the prepared statement: %s", pg_errmsg(pg));
        } else {
            long np = strtol(n, NULL, 10);
            sb_t ex;
            sb_init(&ex);
            sb_puts(&ex, "EXPLAIN (FORMAT JSON) EXECUTE " EXPLAIN_STMT_NAME);
            for (long i = 0; i < np; i++)
                sb_puts(&ex, i == 0 ? "(NULL" : ", NULL");
            if (np > 0)
                sb_putc(&ex, ')');
            e = in_savepoint(pg, ex.data, 0, NULL, &r);
            sb_free(&ex);
        }
    }
    if (e == NULL) {
        json_error_t je;
        out = json_loads(PQgetvalue(r, 0, 0), 0, &je);
        if (out == NULL)
            e = xasprintf("EXPLAIN's JSON: %s", je.text);
    }
    if (out == NULL)
        out = json_pack("{s:s}", "error", e);
    deallocate(pg);
    PQclear(r);
    free(n);
    free(e);
    return out;
}

static bool
capture_in_txn(pg_t *pg, const json_t *stmts, json_t **plans)
{
    size_t i;
    const json_t *s;

    *plans = json_array();
    json_array_foreach(stmts, i, s)
    {
        const char *sql = json_string_value(json_object_get(s, "sql"));
        json_array_append_new(*plans, sql ? plan_one(pg, sql)
                                          : json_pack("{s:s}", "error", "no statement text"));
        if (PQstatus(pg->conn) != CONNECTION_OK)
            return false;
    }
    return true;
}

bool
explain_capture(pg_t *pg, const json_t *stmts, const explain_opts_t *o, json_t **plans, char **err)
{
    migration_t none = {0};
    bool ok;

    *plans = NULL;
    if (!begin_read_only(pg, &none, o, err))
        return false;
    ok = capture_in_txn(pg, stmts, plans);
    if (!ok)
        *err = xasprintf("planning the statements: %s", pg_errmsg(pg));
    pg_exec(pg, "ROLLBACK");
    if (!ok) {
        json_decref(*plans);
        *plans = NULL;
    }
    return ok;
}

static bool
is_error(const json_t *plan)
{
    return plan == NULL || json_object_get(plan, "error") != NULL;
}

static json_t *
index_lists(const plan_t *plan, step_kind_t kind)
{
    json_t *a = json_array();
    for (size_t i = 0; i < plan->n_steps; i++)
        if (plan->steps[i].kind == kind && plan->steps[i].index_name)
            json_array_append_new(a, json_pack("{s:s, s:[]}", "name", plan->steps[i].index_name,
                                               kind == STEP_INDEX ? "serves" : "used_by"));
    return a;
}

static const char **
names_of(const json_t *list, size_t *n)
{
    const char **v = xcalloc(json_array_size(list) + 1, sizeof(char *));
    size_t i;
    const json_t *x;

    *n = 0;
    json_array_foreach(list, i, x) v[(*n)++] = json_string_value(json_object_get(x, "name"));
    return v;
}

static void
credit(json_t *list, const char *name, const char *key, const char *queryid)
{
    size_t i;
    json_t *x;

    json_array_foreach(list, i,
                       x) if (strcmp(json_string_value(json_object_get(x, "name")), name) == 0)
        json_array_append_new(json_object_get(x, key), json_string(queryid));
}

json_t *
explain_compare(const plan_t *plan,
                const json_t *stmts,
                const json_t *before,
                const json_t *after,
                const explain_opts_t *o,
                const char *mode,
                const char *why,
                bool drops_simulated)
{
    json_t *rep = json_object(), *out = json_array();
    json_t *created = index_lists(plan, STEP_INDEX), *dropped = index_lists(plan, STEP_DROP_INDEX);
    const char **cn, **dn;
    size_t n_c, n_d, i, n_changed = 0, n_regr = 0;
    const json_t *s;

    cn = names_of(created, &n_c);
    dn = names_of(dropped, &n_d);
    drops_simulated = drops_simulated && after != NULL;
    json_array_foreach(stmts, i, s)
    {
        json_t *b = json_array_get(before, i), *a = after ? json_array_get(after, i) : NULL;
        json_t *e = json_deep_copy(s);
        const char *qid = json_string_value(json_object_get(s, "queryid"));

        json_object_del(e, "sql");
        json_object_set(e, "before", b ? b : json_null());
        json_object_set(e, "after", a ? a : json_null());
        if (is_error(b)) {
            json_object_set_new(
                e, "error",
                json_string(b ? json_string_value(json_object_get(b, "error")) : "no before plan"));
        } else {
            plandiff_opts_t po = {threshold_of(o), cn,   n_c,  dn, n_d,
                                  drops_simulated, NULL, NULL, 0};
            plandiff_t d;
            char *err = NULL;
            if (plandiff_compare(b, is_error(a) ? NULL : a, &po, &d, &err)) {
                json_object_set_new(e, "diff", plandiff_to_json(&d));
                n_changed += d.changed;
                n_regr += d.regression;
                for (size_t k = 0; k < d.n_uses_created; k++)
                    credit(created, d.uses_created[k], "serves", qid);
                for (size_t k = 0; k < d.n_uses_dropped; k++)
                    credit(dropped, d.uses_dropped[k], "used_by", qid);
                if (a != NULL && is_error(a))
                    json_object_set_new(
                        e, "after_error",
                        json_string(json_string_value(json_object_get(a, "error"))));
                plandiff_free(&d);
            } else {
                json_object_set_new(e, "error", json_string(err));
                free(err);
            }
        }
        json_array_append_new(out, e);
    }
    free(cn);
    free(dn);
    json_object_set_new(rep, "v", json_integer(1));
    json_object_set_new(rep, "migration", json_string(plan->name ? plan->name : ""));
    json_object_set_new(rep, "mode", json_string(mode));
    json_object_set_new(rep, "why", why ? json_string(why) : json_null());
    json_object_set_new(rep, "top", json_integer(top_of(o)));
    json_object_set_new(rep, "threshold_pct", json_real(threshold_of(o)));
    json_object_set_new(rep, "indexes_created", created);
    json_object_set_new(rep, "indexes_dropped", dropped);
    json_object_set_new(rep, "statements", out);
    json_object_set_new(rep, "changed", json_integer((json_int_t)n_changed));
    json_object_set_new(rep, "regressions", json_integer((json_int_t)n_regr));
    json_object_set_new(rep, "notes", json_array());
    return rep;
}

/* Renames hypopg's index names ("<16390>btree_users_email") in a plan tree to the migration's. */
static void
rename_indexes(json_t *node, const json_t *map)
{
    size_t i;
    json_t *k;
    const char *ix;

    if (json_is_array(node)) {
        json_array_foreach(node, i, k) rename_indexes(k, map);
        return;
    }
    if (!json_is_object(node))
        return;
    if (json_is_object(json_object_get(node, "Plan")))
        rename_indexes(json_object_get(node, "Plan"), map);
    ix = json_string_value(json_object_get(node, "Index Name"));
    if (ix != NULL && json_is_string(json_object_get(map, ix)))
        json_object_set(node, "Index Name", json_object_get(map, ix));
    rename_indexes(json_object_get(node, "Plans"), map);
}

/* CREATE INDEX CONCURRENTLY ... as hypopg takes it: without CONCURRENTLY (deparsed). */
static char *
hypo_sql(const char *sql)
{
    const char *c = strstr(sql, " CONCURRENTLY");
    /* the planner's CREATE INDEX comes out of the deparser: "CREATE [UNIQUE] INDEX
     * CONCURRENTLY ..." with CONCURRENTLY exactly once, before the name */
    if (c == NULL)
        return xstrdup(sql);
    return xasprintf("%.*s%s", (int)(c - sql), sql, c + strlen(" CONCURRENTLY"));
}

typedef struct {
    json_t *notes;
    json_t *map; /* hypopg name -> migration name */
    size_t n_made, n_hidden, n_create, n_drop;
    bool hide_available;
} hypo_t;

static void
hypo_apply(pg_t *pg, const plan_t *plan, const char *schema, hypo_t *h)
{
    char *fn_create, *fn_hide;
    qname_t qc = {(char *)schema, "hypopg_create_index"},
            qh = {(char *)schema, "hypopg_hide_index"};
    char *check;

    fn_create = qname_sql(&qc);
    fn_hide = qname_sql(&qh);
    check = xasprintf("%s(oid)", fn_hide);
    {
        char *have =
            pg_value(pg, "SELECT to_regprocedure($1)::text", 1, (const char *const[]){check});
        h->hide_available = have != NULL;
        free(have);
    }
    for (size_t i = 0; i < plan->n_steps; i++) {
        const step_t *s = &plan->steps[i];
        if (s->kind == STEP_INDEX && s->index_name) {
            char *hs = hypo_sql(s->sql),
                 *sql = xasprintf("SELECT indexname FROM %s($1)", fn_create);
            PGresult *r = NULL;
            char *e = in_savepoint(pg, sql, 1, (const char *const[]){hs}, &r);
            h->n_create++;
            if (e == NULL && PQntuples(r) == 1) {
                json_object_set_new(h->map, PQgetvalue(r, 0, 0), json_string(s->index_name));
                h->n_made++;
            } else {
                json_array_append_new(h->notes, json_sprintf("index %s could not be simulated: %s",
                                                             s->index_name, e ? e : "no result"));
            }
            PQclear(r);
            free(e);
            free(sql);
            free(hs);
        } else if (s->kind == STEP_DROP_INDEX && s->index_name) {
            h->n_drop++;
            if (h->hide_available) {
                qname_t q = {s->index_schema, s->index_name};
                char *qn = qname_sql(&q);
                char *sql = xasprintf("SELECT %s(to_regclass($1))", fn_hide);
                PGresult *r = NULL;
                char *e = in_savepoint(pg, sql, 1, (const char *const[]){qn}, &r);
                if (e == NULL && PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't')
                    h->n_hidden++;
                else
                    json_array_append_new(h->notes,
                                          json_sprintf("index %s could not be hidden: %s",
                                                       s->index_name, e ? e : "not hidden"));
                PQclear(r);
                free(e);
                free(sql);
                free(qn);
            }
        }
    }
    free(check);
    free(fn_create);
    free(fn_hide);
}

static void
hypo_reset(pg_t *pg, const char *schema, bool unhide)
{
    qname_t qr = {(char *)schema, "hypopg_reset"},
            qu = {(char *)schema, "hypopg_unhide_all_indexes"};
    char *r = qname_sql(&qr), *u = qname_sql(&qu);
    char *sql = xasprintf("SELECT %s()", r);

    if (pg_exec(pg, sql) != PG_OK)
        log_warn("explain: %s failed: %s", r, pg_errmsg(pg));
    free(sql);
    if (unhide) {
        sql = xasprintf("SELECT %s()", u);
        if (pg_exec(pg, sql) != PG_OK)
            log_warn("explain: %s failed: %s", u, pg_errmsg(pg));
        free(sql);
    }
    free(r);
    free(u);
}

bool
explain_review(pg_t *pg,
               const migration_t *m,
               const plan_t *plan,
               const explain_opts_t *o,
               json_t **out,
               char **err)
{
    json_t *stmts = NULL, *before = NULL, *after = NULL, *notes = json_array();
    json_t *tables = json_array();
    char *why = NULL, *hypo = NULL, *hypo_version = NULL, *mode_why = NULL;
    const char *mode = "before-only";
    hypo_t h = {notes, json_object(), 0, 0, 0, 0, false};
    bool ok = false, applied = false;
    size_t n_index_steps = 0;

    *out = NULL;
    for (size_t i = 0; i < plan->n_steps; i++)
        n_index_steps +=
            plan->steps[i].kind == STEP_INDEX || plan->steps[i].kind == STEP_DROP_INDEX;
    if (plan->n_errors > 0)
        json_array_append_new(
            notes, json_sprintf("the plan has %zu error%s here (in a read-only session the "
                                "catalog's probes that need a temporary table cannot run; "
                                "`convoy plan` shows them): the review uses its index steps only",
                                plan->n_errors, plan->n_errors == 1 ? "" : "s"));
    if (!begin_read_only(pg, m, o, err))
        goto done;
    if (!statements_in_txn(pg, m, plan, o, &stmts, tables, &why, err))
        goto rollback;
    if (why != NULL) {
        /* nothing to explain: the report says why */
        mode = "unavailable";
        mode_why = why;
        why = NULL;
        before = json_array();
        ok = true;
        goto rollback;
    }
    if (!capture_in_txn(pg, stmts, &before)) {
        *err = xasprintf("planning the statements: %s", pg_errmsg(pg));
        goto rollback;
    }
    if (n_index_steps == 0) {
        mode_why = xstrdup("the migration creates and drops no index: its other changes (columns, "
                           "defaults, constraints) do not usually change these plans, so only "
                           "the current plans are shown");
    } else if (o->no_hypothetical) {
        mode_why = xstrdup("hypothetical indexes were not asked for (--no-hypothetical)");
    } else if ((hypo = extension_schema(pg, "hypopg", &hypo_version)) == NULL) {
        mode_why = xstrdup("HypoPG is not installed in this database, and convoy writes nothing "
                           "here: only the current plans are shown (an administrator may run "
                           "CREATE EXTENSION hypopg; it changes no table)");
    } else {
        applied = true;
        hypo_apply(pg, plan, hypo, &h);
        if (h.n_drop > 0 && !h.hide_available)
            json_array_append_new(
                notes, json_sprintf("HypoPG %s has no hypopg_hide_index (1.4 or later): the "
                                    "plans after the DROP INDEX are not simulated; a statement "
                                    "using a dropped index is flagged from its current plan",
                                    hypo_version));
        if (h.n_made + h.n_hidden > 0) {
            char *hidden = h.n_drop == 0 ? xstrdup("")
                                         : xasprintf(", %zu of %zu dropped indexes hidden",
                                                     h.n_hidden, h.n_drop);
            mode = "hypothetical";
            mode_why = xasprintf("HypoPG %s, in this session only: %zu of %zu new indexes "
                                 "simulated%s",
                                 hypo_version, h.n_made, h.n_create, hidden);
            free(hidden);
            if (!capture_in_txn(pg, stmts, &after)) {
                *err = xasprintf("planning the statements: %s", pg_errmsg(pg));
                goto rollback;
            }
            rename_indexes(after, h.map);
        } else {
            mode_why = xasprintf("HypoPG %s could simulate none of the index changes: only the "
                                 "current plans are shown",
                                 hypo_version);
        }
    }
    ok = true;
rollback:
    /* hypothetical indexes are session state, not transactional: cleared after the rollback,
     * so that an aborted transaction cannot keep them */
    pg_exec(pg, "ROLLBACK");
    if (applied)
        hypo_reset(pg, hypo, h.n_hidden > 0);
done:
    if (ok) {
        *out =
            explain_compare(plan, stmts, before, after, o, mode, mode_why, h.n_hidden == h.n_drop);
        json_object_set(*out, "notes", notes);
        json_object_set(*out, "tables", tables);
        json_object_set_new(*out, "read_only", json_true());
    }
    json_decref(stmts);
    json_decref(before);
    json_decref(after);
    json_decref(notes);
    json_decref(tables);
    json_decref(h.map);
    free(why);
    free(hypo);
    free(hypo_version);
    free(mode_why);
    return ok;
}

bool
explain_report_has_regression(const json_t *report)
{
    return json_integer_value(json_object_get(report, "regressions")) > 0;
}

static void
print_cost(sb_t *sb, const json_t *diff, const char *key)
{
    const json_t *c = json_object_get(diff, key);
    if (json_is_number(c))
        sb_printf(sb, "  (cost %.2f", json_number_value(c));
    else
        return;
    if (strcmp(key, "after_cost") == 0 && json_is_number(json_object_get(diff, "cost_change_pct")))
        sb_printf(sb, ", %+.0f%%", json_number_value(json_object_get(diff, "cost_change_pct")));
    sb_putc(sb, ')');
}

static void
print_list(sb_t *sb, const char *label, const json_t *list)
{
    size_t i;
    const json_t *x;

    json_array_foreach(list, i, x) sb_printf(sb, "    %s%s\n", label, json_string_value(x));
}

/* "#1, #3" from queryids, numbered as the statements are listed. */
static void
print_refs(sb_t *sb, const json_t *stmts, const json_t *ids)
{
    size_t i, k;
    const json_t *id, *s;
    bool first = true;

    json_array_foreach(ids, i, id) json_array_foreach(stmts, k, s)
    {
        if (strcmp(json_string_value(json_object_get(s, "queryid")), json_string_value(id)) == 0) {
            sb_printf(sb, "%s#%zu", first ? "" : ", ", k + 1);
            first = false;
        }
    }
}

/* "new index x: serves 2 statements (#1, #3)", one line per index of list. */
static void
print_indexes(sb_t *sb,
              const json_t *stmts,
              const json_t *list,
              const char *what,
              const char *key,
              const char *verb)
{
    size_t i;
    const json_t *x;

    json_array_foreach(list, i, x)
    {
        const json_t *ids = json_object_get(x, key);
        size_t n = json_array_size(ids);
        sb_printf(sb, "%s index %s: %s ", what, json_string_value(json_object_get(x, "name")),
                  verb);
        if (n == 0) {
            sb_puts(sb, "none of these statements\n");
            continue;
        }
        sb_printf(sb, "%zu statement%s (", n, n == 1 ? "" : "s");
        print_refs(sb, stmts, ids);
        sb_puts(sb, ")\n");
    }
}

char *
explain_report_text(const json_t *rep)
{
    sb_t sb;
    const json_t *stmts = json_object_get(rep, "statements"), *s, *x;
    const char *mode = json_string_value(json_object_get(rep, "mode"));
    const char *why = json_string_value(json_object_get(rep, "why"));
    size_t i;

    sb_init(&sb);
    sb_printf(&sb, "EXPLAIN review of %s: %s\n",
              json_string_value(json_object_get(rep, "migration")), mode ? mode : "?");
    if (why)
        sb_printf(&sb, "  %s\n", why);
    sb_printf(&sb,
              "top %lld statements from pg_stat_statements that touch the changed tables; "
              "cost regression threshold %.0f%%\n",
              (long long)json_integer_value(json_object_get(rep, "top")),
              json_number_value(json_object_get(rep, "threshold_pct")));
    print_indexes(&sb, stmts, json_object_get(rep, "indexes_created"), "new", "serves", "serves");
    print_indexes(&sb, stmts, json_object_get(rep, "indexes_dropped"), "dropped", "used_by",
                  "used by");
    json_array_foreach(json_object_get(rep, "notes"), i, x)
        sb_printf(&sb, "note: %s\n", json_string_value(x));
    json_array_foreach(stmts, i, s)
    {
        const json_t *d = json_object_get(s, "diff");
        sb_printf(&sb, "\n%2zu. %s\n", i + 1, json_string_value(json_object_get(s, "query")));
        sb_printf(&sb, "    calls %lld, total %.1f ms, mean %.3f ms\n",
                  (long long)json_integer_value(json_object_get(s, "calls")),
                  json_number_value(json_object_get(s, "total_exec_ms")),
                  json_number_value(json_object_get(s, "mean_exec_ms")));
        if (json_object_get(s, "error")) {
            sb_printf(&sb, "    not planned: %s\n", json_string_value(json_object_get(s, "error")));
            continue;
        }
        sb_printf(&sb, "    before: %s", json_string_value(json_object_get(d, "before_shape")));
        print_cost(&sb, d, "before_cost");
        sb_putc(&sb, '\n');
        if (json_is_string(json_object_get(d, "after_shape"))) {
            sb_printf(&sb, "    after:  %s", json_string_value(json_object_get(d, "after_shape")));
            print_cost(&sb, d, "after_cost");
            sb_putc(&sb, '\n');
            if (!json_is_true(json_object_get(d, "changed")))
                sb_puts(&sb, "    plan unchanged\n");
        }
        if (json_object_get(s, "after_error"))
            sb_printf(&sb, "    after: not planned: %s\n",
                      json_string_value(json_object_get(s, "after_error")));
        print_list(&sb, "change: ", json_object_get(d, "changes"));
        print_list(&sb, "REGRESSION: ", json_object_get(d, "reasons"));
    }
    sb_printf(&sb, "\n%zu statement%s, %lld plan%s changed, %lld regression%s\n",
              json_array_size(stmts), json_array_size(stmts) == 1 ? "" : "s",
              (long long)json_integer_value(json_object_get(rep, "changed")),
              json_integer_value(json_object_get(rep, "changed")) == 1 ? "" : "s",
              (long long)json_integer_value(json_object_get(rep, "regressions")),
              json_integer_value(json_object_get(rep, "regressions")) == 1 ? "" : "s");
    return sb_steal(&sb);
}
