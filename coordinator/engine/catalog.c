/* catalog.c: live catalog facts and server-side probes for the planner. */
#include "convoy/catalog.h"

#include "convoy/quote.h"
#include "convoy/util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static bool
fetch_table(pg_t *pg, table_fact_t *t)
{
    qname_t q = {t->schema_given, t->name_given};
    char *qn = qname_sql(&q);
    const char *params[1] = {qn};
    PGresult *r = NULL;
    char oid[16];
    const char *p1[1] = {oid};
    bool ok = false;

    if (pg_run(pg,
               "SELECT c.oid, n.nspname, c.relname, "
               /* a partitioned table's size is its partitions' */
               "CASE WHEN c.relkind = 'p' THEN (SELECT coalesce(sum(greatest(p.reltuples, 0)), "
               "0)::bigint FROM pg_partition_tree(c.oid) t JOIN pg_class p ON p.oid = t.relid "
               "WHERE t.isleaf) ELSE c.reltuples::bigint END, "
               "CASE WHEN c.relkind = 'p' THEN (SELECT coalesce(sum(pg_total_relation_size("
               "t.relid)), 0)::bigint FROM pg_partition_tree(c.oid) t WHERE t.isleaf) "
               "ELSE pg_total_relation_size(c.oid) END, pg_relation_size(c.oid), "
               "c.relkind = 'p' "
               "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
               "WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p')",
               1, params, &r) != PG_OK)
        goto done;
    if (PQntuples(r) == 0) {
        t->exists = false;
        ok = true;
        goto done;
    }
    t->exists = true;
    snprintf(oid, sizeof(oid), "%s", PQgetvalue(r, 0, 0));
    t->schema = xstrdup(PQgetvalue(r, 0, 1));
    t->name = xstrdup(PQgetvalue(r, 0, 2));
    t->rows = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
    t->bytes = strtoll(PQgetvalue(r, 0, 4), NULL, 10);
    t->partitioned = PQgetvalue(r, 0, 6)[0] == 't';
    PQclear(r);
    r = NULL;
    if (t->partitioned) {
        if (pg_run(pg,
                   "SELECT n.nspname, c.relname, c.relkind = 'p', ARRAY(SELECT x.relname FROM "
                   "pg_index i JOIN pg_class x ON x.oid = i.indexrelid WHERE i.indrelid = "
                   "c.oid)::text[] FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid "
                   "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE h.inhparent = $1::oid "
                   "ORDER BY c.relname",
                   1, p1, &r) != PG_OK)
            goto done;
        t->n_parts = (size_t)PQntuples(r);
        t->parts = xcalloc(t->n_parts ? t->n_parts : 1, sizeof(partition_fact_t));
        for (size_t i = 0; i < t->n_parts; i++) {
            partition_fact_t *pf = &t->parts[i];
            char *arr = xstrdup(PQgetvalue(r, (int)i, 3));
            char *save = NULL;
            pf->schema = xstrdup(PQgetvalue(r, (int)i, 0));
            pf->name = xstrdup(PQgetvalue(r, (int)i, 1));
            pf->partitioned = PQgetvalue(r, (int)i, 2)[0] == 't';
            pf->index_names = xcalloc(strlen(arr) + 1, sizeof(char *));
            for (char *tok = strtok_r(arr + 1, ",}", &save); tok;
                 tok = strtok_r(NULL, ",}", &save)) {
                size_t n = strlen(tok);
                if (n >= 2 && tok[0] == '"' && tok[n - 1] == '"') {
                    tok[n - 1] = '\0';
                    tok++;
                }
                pf->index_names[pf->n_index_names++] = xstrdup(tok);
            }
            free(arr);
        }
        PQclear(r);
        r = NULL;
    }
    {
        qname_t rq = {t->schema, t->name};
        char *rn = qname_sql(&rq);
        char *sql = xasprintf("SELECT EXISTS (SELECT 1 FROM %s), "
                              "CASE WHEN %lld < 0 THEN (SELECT count(*) FROM %s) END",
                              rn, (long long)t->rows, rn);
        pg_status_t st = pg_run(pg, sql, 0, NULL, &r);
        free(sql);
        free(rn);
        if (st != PG_OK)
            goto done;
        t->has_rows = PQgetvalue(r, 0, 0)[0] == 't';
        if (!PQgetisnull(r, 0, 1))
            t->rows = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
        PQclear(r);
        r = NULL;
    }
    /* used_by: the objects that depend on the column (an index, a constraint, a view, an
     * owned or identity sequence), not its own DEFAULT */
    if (pg_run(pg,
               "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
               "pg_get_expr(d.adbin, d.adrelid), (SELECT string_agg(pg_describe_object(dp.classid, "
               "dp.objid, dp.objsubid), ', ' ORDER BY 1) FROM pg_depend dp WHERE dp.refclassid = "
               "'pg_class'::regclass AND dp.refobjid = a.attrelid AND dp.refobjsubid = a.attnum "
               "AND dp.classid <> 'pg_attrdef'::regclass AND dp.deptype IN ('a', 'n', 'i')) "
               "FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum "
               "= a.attnum WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped "
               "ORDER BY a.attnum",
               1, p1, &r) != PG_OK)
        goto done;
    t->n_cols = (size_t)PQntuples(r);
    t->cols = xcalloc(t->n_cols, sizeof(column_fact_t));
    for (size_t i = 0; i < t->n_cols; i++) {
        t->cols[i].name = xstrdup(PQgetvalue(r, (int)i, 0));
        t->cols[i].type = xstrdup(PQgetvalue(r, (int)i, 1));
        t->cols[i].not_null = PQgetvalue(r, (int)i, 2)[0] == 't';
        if (!PQgetisnull(r, (int)i, 3))
            t->cols[i].default_sql = xstrdup(PQgetvalue(r, (int)i, 3));
        if (!PQgetisnull(r, (int)i, 4))
            t->cols[i].used_by = xstrdup(PQgetvalue(r, (int)i, 4));
    }
    PQclear(r);
    r = NULL;
    /* convoy's rename sync triggers carry their columns in their comment (JSON) */
    if (pg_run(pg,
               "SELECT g.tgname, p.proname, c.description::jsonb->>'from', "
               "c.description::jsonb->>'to' FROM pg_trigger g JOIN pg_proc p ON p.oid = g.tgfoid "
               "JOIN pg_description c ON c.objoid = g.oid AND c.classoid = "
               "'pg_trigger'::regclass WHERE g.tgrelid = $1::oid AND NOT g.tgisinternal AND "
               "c.description LIKE '{\"convoy\": \"rename\"%' ORDER BY 1",
               1, p1, &r) != PG_OK)
        goto done;
    t->n_renames = (size_t)PQntuples(r);
    t->renames = xcalloc(t->n_renames ? t->n_renames : 1, sizeof(rename_sync_fact_t));
    for (size_t i = 0; i < t->n_renames; i++) {
        t->renames[i].trigger = xstrdup(PQgetvalue(r, (int)i, 0));
        t->renames[i].function = xstrdup(PQgetvalue(r, (int)i, 1));
        t->renames[i].from = xstrdup(PQgetvalue(r, (int)i, 2));
        t->renames[i].to = xstrdup(PQgetvalue(r, (int)i, 3));
    }
    PQclear(r);
    r = NULL;
    if (pg_run(pg,
               "SELECT a.attname, format_type(a.atttypid, a.atttypmod) "
               "FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY "
               "AS k(attnum, ord) JOIN pg_attribute a ON a.attrelid = i.indrelid AND "
               "a.attnum = k.attnum WHERE i.indrelid = $1::oid AND i.indisprimary ORDER BY k.ord",
               1, p1, &r) != PG_OK)
        goto done;
    t->n_pk = (size_t)PQntuples(r);
    t->pk_cols = xcalloc(t->n_pk, sizeof(char *));
    t->pk_types = xcalloc(t->n_pk, sizeof(char *));
    for (size_t i = 0; i < t->n_pk; i++) {
        t->pk_cols[i] = xstrdup(PQgetvalue(r, (int)i, 0));
        t->pk_types[i] = xstrdup(PQgetvalue(r, (int)i, 1));
    }
    PQclear(r);
    r = NULL;
    if (pg_run(pg,
               "SELECT c.relname, i.indisvalid, i.indisunique, "
               "ARRAY(SELECT coalesce(a.attname, '') FROM unnest(i.indkey::int2[]) WITH "
               "ORDINALITY AS k(attnum, ord) LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid "
               "AND a.attnum = k.attnum WHERE k.ord <= i.indnkeyatts ORDER BY k.ord)::text[] "
               "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = $1::oid",
               1, p1, &r) != PG_OK)
        goto done;
    t->n_indexes = (size_t)PQntuples(r);
    t->indexes = xcalloc(t->n_indexes, sizeof(index_fact_t));
    for (size_t i = 0; i < t->n_indexes; i++) {
        index_fact_t *ix = &t->indexes[i];
        char *arr = xstrdup(PQgetvalue(r, (int)i, 3));
        char *save = NULL;
        ix->name = xstrdup(PQgetvalue(r, (int)i, 0));
        ix->valid = PQgetvalue(r, (int)i, 1)[0] == 't';
        ix->unique = PQgetvalue(r, (int)i, 2)[0] == 't';
        /* {a,b,"odd name"}: good enough to compare leading plain column names */
        ix->cols = xcalloc(strlen(arr) + 1, sizeof(char *));
        for (char *tok = strtok_r(arr + 1, ",}", &save); tok; tok = strtok_r(NULL, ",}", &save)) {
            size_t n = strlen(tok);
            if (n >= 2 && tok[0] == '"' && tok[n - 1] == '"') {
                tok[n - 1] = '\0';
                tok++;
            }
            ix->cols[ix->n_cols++] = xstrdup(tok);
        }
        free(arr);
    }
    PQclear(r);
    r = NULL;
    if (pg_run(pg,
               "SELECT conname, contype, convalidated FROM pg_constraint WHERE conrelid = $1::oid",
               1, p1, &r) != PG_OK)
        goto done;
    t->n_constraints = (size_t)PQntuples(r);
    t->constraints = xcalloc(t->n_constraints, sizeof(constraint_fact_t));
    for (size_t i = 0; i < t->n_constraints; i++) {
        t->constraints[i].name = xstrdup(PQgetvalue(r, (int)i, 0));
        t->constraints[i].type = PQgetvalue(r, (int)i, 1)[0];
        t->constraints[i].validated = PQgetvalue(r, (int)i, 2)[0] == 't';
    }
    ok = true;
done:
    PQclear(r);
    free(qn);
    return ok;
}

static void
want_table(facts_t *f, const qname_t *q)
{
    if (q->name == NULL || facts_table(f, q->schema, q->name))
        return;
    f->tables = xrealloc(f->tables, (f->n_tables + 1) * sizeof(table_fact_t));
    memset(&f->tables[f->n_tables], 0, sizeof(table_fact_t));
    f->tables[f->n_tables].schema_given = q->schema ? xstrdup(q->schema) : NULL;
    f->tables[f->n_tables].name_given = xstrdup(q->name);
    f->tables[f->n_tables].rows = -1;
    f->tables[f->n_tables].bytes = -1;
    f->n_tables++;
}

/* Runs `sql` inside a savepoint; on failure returns the server's message. */
static char *
try_in_savepoint(pg_t *pg, const char *sql)
{
    if (pg_exec(pg, "SAVEPOINT convoy_probe") != PG_OK)
        return xstrdup(pg_errmsg(pg));
    if (pg_exec(pg, sql) != PG_OK) {
        char *msg = xstrdup(pg_errmsg(pg));
        pg_exec(pg, "ROLLBACK TO SAVEPOINT convoy_probe");
        return msg;
    }
    pg_exec(pg, "RELEASE SAVEPOINT convoy_probe");
    return NULL;
}

static void
probe_default(pg_t *pg, const action_t *a, size_t idx, default_fact_t *d)
{
    char *tmp = xasprintf("pg_temp.convoy_probe_%zu", idx);
    char *sql = xasprintf("CREATE TEMP TABLE convoy_probe_%zu AS SELECT 1 AS x", idx);
    char *err;

    d->action = idx;
    if ((err = try_in_savepoint(pg, sql)) != NULL) {
        d->error = err;
        goto done;
    }
    free(sql);
    sql = xasprintf("ALTER TABLE %s ADD COLUMN c %s%s%s%s", tmp, a->type_sql,
                    a->collate_sql ? a->collate_sql : "", a->default_sql ? " DEFAULT " : "",
                    a->default_sql ? a->default_sql : "");
    if ((err = try_in_savepoint(pg, sql)) != NULL) {
        d->error = err;
        goto done;
    }
    d->probed = true;
    free(sql);
    sql = xasprintf("SELECT atthasmissing FROM pg_attribute WHERE attrelid = '%s'::regclass "
                    "AND attname = 'c'",
                    tmp);
    {
        char *v = pg_value(pg, sql, 0, NULL);
        d->fast = v && v[0] == 't';
        free(v);
    }
    free(sql);
    sql = xasprintf("SELECT t.typtype = 'd' AND EXISTS (SELECT 1 FROM pg_constraint k WHERE "
                    "k.contypid = t.oid) FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
                    "WHERE a.attrelid = '%s'::regclass AND a.attname = 'c'",
                    tmp);
    {
        char *v = pg_value(pg, sql, 0, NULL);
        d->domain_constrained = v && v[0] == 't';
        free(v);
    }
    if (a->default_sql) {
        /* A stored generated column demands an immutable expression: ask the server. */
        free(sql);
        sql = xasprintf("ALTER TABLE %s ADD COLUMN g %s GENERATED ALWAYS AS (%s) STORED", tmp,
                        a->type_sql, a->default_sql);
        err = try_in_savepoint(pg, sql);
        d->immutable = err == NULL;
        free(err);
    } else {
        d->immutable = true;
    }
done:
    free(sql);
    free(tmp);
}

static void
probe_type(pg_t *pg, const action_t *a, const table_fact_t *t, size_t idx, type_fact_t *tf)
{
    const column_fact_t *cf = facts_column(t, a->column);
    char *tmp = xasprintf("pg_temp.convoy_tprobe_%zu", idx);
    char *sql = NULL, *err = NULL, *before = NULL, *after = NULL;

    tf->action = idx;
    if (cf == NULL)
        goto done;
    /* a copy of the table's columns, so a USING expression can name any of them */
    {
        qname_t q = {t->schema, t->name};
        char *tq = qname_sql(&q);
        sql = xasprintf("CREATE TEMP TABLE convoy_tprobe_%zu (LIKE %s)", idx, tq);
        free(tq);
    }
    if ((err = try_in_savepoint(pg, sql)) != NULL) {
        tf->error = err;
        goto done;
    }
    free(sql);
    sql = xasprintf("SELECT pg_relation_filenode('%s')", tmp);
    before = pg_value(pg, sql, 0, NULL);
    free(sql);
    {
        char *qc = ident_sql(a->column);
        sql = xasprintf("ALTER TABLE %s ALTER COLUMN %s TYPE %s%s%s", tmp, qc, a->type_sql,
                        a->using_sql ? " USING " : "", a->using_sql ? a->using_sql : "");
        free(qc);
    }
    if ((err = try_in_savepoint(pg, sql)) != NULL) {
        tf->error = err;
        goto done;
    }
    free(sql);
    sql = xasprintf("SELECT pg_relation_filenode('%s')", tmp);
    after = pg_value(pg, sql, 0, NULL);
    tf->probed = before && after;
    tf->rewrites = !tf->probed || strcmp(before, after) != 0;
done:
    free(before);
    free(after);
    free(sql);
    free(tmp);
}

#define BACKFILL_SAMPLE_ROWS 10000

/* sum(...) over rows [offset, offset+limit) of the table in key order: evaluates expr. */
static char *
backfill_window_sql(const table_fact_t *t, const char *expr, const char *type)
{
    qname_t q = {t->schema, t->name};
    char *tbl = qname_sql(&q), *alias = ident_sql(t->name), *sql;
    sb_t order;

    sb_init(&order);
    for (size_t i = 0; i < t->n_pk; i++) {
        char *k = ident_sql(t->pk_cols[i]);
        sb_printf(&order, "%s%s", i ? ", " : "", k);
        free(k);
    }
    /* the alias is the table's own name, so table-qualified column references resolve */
    sql = xasprintf("SELECT sum(CASE WHEN CAST((%s) AS %s) IS NULL THEN 0 ELSE 1 END) FROM "
                    "(SELECT * FROM %s ORDER BY %s OFFSET $1::bigint LIMIT $2::bigint) AS %s",
                    expr, type, tbl, order.data, alias);
    sb_free(&order);
    free(tbl);
    free(alias);
    return sql;
}

/* Runs a window; NULL when it evaluates, else the server's message (*state: SQLSTATE). */
static char *
try_window(pg_t *pg, const char *sql, int64_t off, int64_t lim, char state[6])
{
    char o[32], l[32];
    const char *p[2] = {o, l};
    char *msg = NULL;

    snprintf(o, sizeof(o), "%lld", (long long)off);
    snprintf(l, sizeof(l), "%lld", (long long)lim);
    state[0] = '\0';
    if (pg_exec(pg, "SAVEPOINT convoy_bprobe; SET LOCAL statement_timeout = '5s'") != PG_OK)
        return xstrdup(pg_errmsg(pg));
    if (pg_run(pg, sql, 2, p, NULL) != PG_OK) {
        msg = xstrdup(pg_errmsg(pg));
        snprintf(state, 6, "%s", pg_sqlstate(pg));
        pg_exec(pg, "ROLLBACK TO SAVEPOINT convoy_bprobe");
    }
    pg_exec(pg, "RELEASE SAVEPOINT convoy_bprobe");
    return msg;
}

/*
 * Evaluates a backfill expression over the first rows of the table (read-only, in the
 * catalog's rolled-back transaction). A data error (class 22) or a type the column cannot
 * take (42804/42846) is what the backfill would hit: report it and bisect to the row.
 */
static void
probe_backfill(pg_t *pg,
               const backfill_directive_t *b,
               const action_t *a,
               const table_fact_t *t,
               default_fact_t *d)
{
    char *sql, *msg;
    char state[6];
    int64_t lo = 0, n = BACKFILL_SAMPLE_ROWS;

    if (t->n_pk == 0 || !t->has_rows)
        return;
    sql = backfill_window_sql(t, b->expr_sql, a->type_sql);
    msg = try_window(pg, sql, 0, n, state);
    d->backfill_sampled = t->rows >= 0 && t->rows < n ? t->rows : n;
    if (msg == NULL || !(strncmp(state, "22", 2) == 0 || strcmp(state, "42804") == 0 ||
                         strcmp(state, "42846") == 0)) {
        free(msg);
        free(sql);
        return;
    }
    d->backfill_error = msg;
    while (n > 1) {
        int64_t half = n / 2;
        char *m = try_window(pg, sql, lo, half, state);
        if (m) {
            n = half;
        } else {
            lo += half;
            n -= half;
        }
        free(m);
    }
    {
        qname_t q = {t->schema, t->name};
        char *tbl = qname_sql(&q);
        sb_t cols, order;
        char o[32];
        const char *p[1] = {o};
        char *ksql, *key;
        sb_init(&cols);
        sb_init(&order);
        for (size_t i = 0; i < t->n_pk; i++) {
            char *k = ident_sql(t->pk_cols[i]);
            sb_printf(&cols, "%s%s::text", i ? ", " : "", k);
            sb_printf(&order, "%s%s", i ? ", " : "", k);
            free(k);
        }
        snprintf(o, sizeof(o), "%lld", (long long)lo);
        ksql = xasprintf("SELECT concat_ws(', ', %s) FROM %s ORDER BY %s OFFSET $1::bigint LIMIT 1",
                         cols.data, tbl, order.data);
        key = pg_value(pg, ksql, 1, p);
        if (key) {
            sb_t kd;
            sb_init(&kd);
            sb_putc(&kd, '(');
            for (size_t i = 0; i < t->n_pk; i++)
                sb_printf(&kd, "%s%s", i ? ", " : "", t->pk_cols[i]);
            sb_printf(&kd, ")=(%s)", key);
            d->backfill_key = sb_steal(&kd);
        }
        free(key);
        free(ksql);
        free(tbl);
        sb_free(&cols);
        sb_free(&order);
    }
    free(sql);
}

/* The planner's estimate of the rows an UPDATE/DELETE touches (EXPLAIN, nothing runs). */
static int64_t
estimate_rows(pg_t *pg, const char *stmt_sql)
{
    char *sql = xasprintf("EXPLAIN (FORMAT JSON) %s", stmt_sql);
    int64_t rows = -1;
    char *v;

    if (pg_exec(pg, "SAVEPOINT convoy_explain") != PG_OK) {
        free(sql);
        return -1;
    }
    v = pg_value(pg, sql, 0, NULL);
    if (v) {
        json_error_t e;
        json_t *doc = json_loads(v, 0, &e);
        json_t *plan = json_object_get(json_array_get(doc, 0), "Plan");
        json_t *child = json_array_get(json_object_get(plan, "Plans"), 0);
        json_t *r = json_object_get(child ? child : plan, "Plan Rows");
        if (json_is_number(r))
            rows = (int64_t)json_number_value(r);
        json_decref(doc);
        free(v);
        pg_exec(pg, "RELEASE SAVEPOINT convoy_explain");
    } else {
        pg_exec(pg, "ROLLBACK TO SAVEPOINT convoy_explain");
    }
    free(sql);
    return rows;
}

/* A read-only count, bounded: -1 when it fails or takes too long. */
static int64_t
bounded_count(pg_t *pg, const char *sql)
{
    char *v;
    int64_t n = -1;

    if (pg_exec(pg, "SAVEPOINT convoy_count; SET LOCAL statement_timeout = '5s'") != PG_OK)
        return -1;
    v = pg_value(pg, sql, 0, NULL);
    if (v) {
        n = strtoll(v, NULL, 10);
        free(v);
        pg_exec(pg, "RELEASE SAVEPOINT convoy_count");
    } else {
        pg_exec(pg, "ROLLBACK TO SAVEPOINT convoy_count");
    }
    return n;
}

/*
 * Would psql fail this file on the data as it is? A CHECK that existing rows break, or a
 * UNIQUE index over duplicates, fails psql's whole file, which then changes nothing; convoy
 * says so before it changes anything. Counted read-only, at most 5 s each.
 */
static int64_t
count_violations(pg_t *pg, const action_t *a, const table_fact_t *t)
{
    qname_t q = {t->schema, t->name};
    char *tbl = qname_sql(&q), *sql = NULL;
    int64_t n = -1;

    if (a->kind == ACT_ADD_CHECK && !a->not_valid && a->constraint_sql &&
        strncmp(a->constraint_sql, "CHECK (", 7) == 0) {
        size_t len = strlen(a->constraint_sql);
        sql = xasprintf("SELECT count(*) FROM %s WHERE NOT (%.*s)", tbl, (int)(len - 8),
                        a->constraint_sql + 7);
    } else if ((a->kind == ACT_CREATE_INDEX || a->kind == ACT_ADD_UNIQUE) && a->unique &&
               a->n_cols > 0 && (a->index_sql == NULL || strstr(a->index_sql, " WHERE ") == NULL)) {
        sb_t cols, nn;
        sb_init(&cols);
        sb_init(&nn);
        for (size_t i = 0; i < a->n_cols; i++) {
            char *c = ident_sql(a->cols[i]);
            sb_printf(&cols, "%s%s", i ? ", " : "", c);
            sb_printf(&nn, "%s%s IS NOT NULL", i ? " AND " : "", c);
            free(c);
        }
        sql = xasprintf("SELECT count(*) FROM (SELECT 1 FROM %s WHERE %s GROUP BY %s HAVING "
                        "count(*) > 1) d",
                        tbl, nn.data, cols.data);
        sb_free(&cols);
        sb_free(&nn);
    }
    if (sql)
        n = bounded_count(pg, sql);
    free(sql);
    free(tbl);
    return n;
}

bool
catalog_fetch(pg_t *pg, const migration_t *m, facts_t *out, char **err)
{
    PGresult *r = NULL;
    bool ok = false;

    memset(out, 0, sizeof(*out));
    out->live = true;
    if (pg_run(pg,
               "SELECT current_setting('server_version_num')::int, "
               "current_setting('server_version'), current_database(), pg_is_in_recovery()",
               0, NULL, &r) != PG_OK) {
        *err = xasprintf("reading the server version: %s", pg_errmsg(pg));
        return false;
    }
    /* A standby rejects every probe as read-only, which would read as a bad column type. */
    if (PQgetvalue(r, 0, 3)[0] == 't') {
        PQclear(r);
        *err = xstrdup("this server is a read-only standby (in recovery); connect convoy to the "
                       "primary");
        return false;
    }
    out->server_version = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
    out->server_desc =
        xasprintf("PostgreSQL %s, database %s", PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2));
    PQclear(r);

    for (size_t i = 0; i < m->n_actions; i++) {
        const action_t *a = &m->actions[i];
        if (a->table_is_new || a->kind == ACT_REFUSE || a->kind == ACT_IGNORE ||
            a->kind == ACT_DROP_INDEX || (a->kind == ACT_PASSTHROUGH && !a->only_index))
            continue;
        want_table(out, &a->table);
        if (a->kind == ACT_ADD_FK)
            want_table(out, &a->ref_table);
    }
    /* the probes wait on no user table for long (the transaction is rolled back) */
    if (pg_exec(pg, "BEGIN; SET LOCAL lock_timeout = '2s'") != PG_OK) {
        *err = xasprintf("starting the catalog transaction: %s", pg_errmsg(pg));
        return false;
    }
    if (m->search_path) {
        /* the file's SET search_path: names resolve as psql would resolve them */
        char *sp = xasprintf("SET LOCAL search_path = %s", m->search_path);
        pg_status_t st = pg_exec(pg, sp);
        free(sp);
        if (st != PG_OK) {
            *err = xasprintf("the file's SET search_path failed: %s", pg_errmsg(pg));
            pg_exec(pg, "ROLLBACK");
            return false;
        }
    }
    for (size_t i = 0; i < out->n_tables; i++) {
        if (!fetch_table(pg, &out->tables[i])) {
            *err = xasprintf("reading table %s: %s", out->tables[i].name_given, pg_errmsg(pg));
            goto done;
        }
    }
    for (size_t i = 0; i < m->n_actions; i++) {
        const action_t *a = &m->actions[i];
        const table_fact_t *t;
        if (a->replay) {
            /* the probes that follow see the types, extensions and functions the file
             * creates before them; this transaction is rolled back */
            char *e = try_in_savepoint(pg, a->stmt_sql);
            free(e);
            continue;
        }
        if (a->kind == ACT_DROP_INDEX && a->index_name) {
            qname_t q = {a->table.schema, a->index_name};
            char *qn = qname_sql(&q);
            const char *kp[1] = {qn};
            char *k = pg_value(pg, "SELECT relkind::text FROM pg_class WHERE oid = to_regclass($1)",
                               1, kp);
            if (out->index_kind == NULL) {
                out->n_index_kind = m->n_actions;
                out->index_kind = xcalloc(m->n_actions, 1);
            }
            out->index_kind[i] = k ? k[0] : '-';
            free(k);
            free(qn);
            continue;
        }
        if ((a->kind == ACT_ADD_CHECK || a->kind == ACT_CREATE_INDEX ||
             a->kind == ACT_ADD_UNIQUE) &&
            !a->table_is_new) {
            const table_fact_t *vt = facts_table(out, a->table.schema, a->table.name);
            if (vt && vt->exists && vt->has_rows) {
                if (out->violations == NULL) {
                    out->n_violations = m->n_actions;
                    out->violations = xcalloc(m->n_actions, sizeof(int64_t));
                    for (size_t k = 0; k < m->n_actions; k++)
                        out->violations[k] = -1;
                }
                out->violations[i] = count_violations(pg, a, vt);
            }
            continue;
        }
        if (a->kind == ACT_UPDATE && !a->table_is_new) {
            if (out->est_rows == NULL) {
                out->n_est_rows = m->n_actions;
                out->est_rows = xcalloc(m->n_actions, sizeof(int64_t));
                for (size_t k = 0; k < m->n_actions; k++)
                    out->est_rows[k] = -1;
            }
            out->est_rows[i] = estimate_rows(pg, a->stmt_sql);
            continue;
        }
        if (a->kind != ACT_ADD_COLUMN && a->kind != ACT_ALTER_TYPE)
            continue;
        t = facts_table(out, a->table.schema, a->table.name);
        if (t == NULL || !t->exists)
            continue;
        if (a->kind == ACT_ADD_COLUMN) {
            out->defaults = xrealloc(out->defaults, (out->n_defaults + 1) * sizeof(default_fact_t));
            memset(&out->defaults[out->n_defaults], 0, sizeof(default_fact_t));
            probe_default(pg, a, i, &out->defaults[out->n_defaults]);
            for (size_t k = 0; k < m->n_backfills; k++) {
                const backfill_directive_t *b = &m->backfills[k];
                if (strcmp(b->column, a->column) == 0 &&
                    (b->table == NULL || strcmp(b->table, a->table.name) == 0))
                    probe_backfill(pg, b, a, t, &out->defaults[out->n_defaults]);
            }
            out->n_defaults++;
        } else {
            out->types = xrealloc(out->types, (out->n_types + 1) * sizeof(type_fact_t));
            memset(&out->types[out->n_types], 0, sizeof(type_fact_t));
            probe_type(pg, a, t, i, &out->types[out->n_types++]);
        }
    }
    ok = true;
done:
    pg_exec(pg, "ROLLBACK");
    return ok;
}
