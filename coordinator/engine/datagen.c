/* datagen.c: staging rows from production's statistics, one INSERT ... SELECT per table. */
#include "convoy/datagen.h"

#include "convoy/log.h"
#include "convoy/quote.h"
#include "convoy/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *
dup_or_null(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : xstrdup(PQgetvalue(r, row, col));
}

static double
num_or(PGresult *r, int row, int col, double dflt)
{
    return PQgetisnull(r, row, col) ? dflt : strtod(PQgetvalue(r, row, col), NULL);
}

bool
datagen_read(pg_t *prod, const char *schema, const char *name, dg_table_t *out, char **err)
{
    qname_t q = {(char *)schema, (char *)name};
    char *qn = qname_sql(&q);
    const char *p[3] = {qn, schema, name};
    PGresult *r = NULL;
    bool ok = false;

    memset(out, 0, sizeof(*out));
    out->schema = xstrdup(schema);
    out->name = xstrdup(name);
    if (pg_run(prod,
               "SELECT c.reltuples::bigint, pg_total_relation_size(c.oid) FROM pg_class c "
               "WHERE c.oid = to_regclass($1)",
               1, p, &r) != PG_OK ||
        PQntuples(r) != 1) {
        *err = xasprintf("reading %s on PROD: %s", qn, r ? "no such table" : pg_errmsg(prod));
        goto done;
    }
    out->prod_rows = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    out->prod_bytes = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    PQclear(r);
    r = NULL;
    if (out->prod_rows < 0) {
        *err = xasprintf("%s on PROD has never been analyzed (pg_class.reltuples = -1): run "
                         "ANALYZE %s on PROD first, so that convoy has statistics to work from",
                         qn, qn);
        goto done;
    }
    if (pg_run(prod,
               "SELECT a.attname, format_type(a.atttypid, a.atttypmod), "
               "  CASE WHEN t.typcategory = 'N' THEN 'num' "
               "       WHEN a.atttypid IN ('date'::regtype, 'timestamp'::regtype, "
               "                           'timestamptz'::regtype) THEN 'time' "
               "       WHEN t.typcategory = 'S' THEN 'text' "
               "       WHEN a.atttypid = 'uuid'::regtype THEN 'uuid' ELSE 'other' END, "
               "  a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype), "
               "  a.attnotnull, a.attgenerated <> '', "
               "  EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisunique "
               "          AND i.indnatts = 1 AND i.indkey[0] = a.attnum AND i.indpred IS NULL), "
               "  s.attname IS NOT NULL, s.null_frac, s.n_distinct, s.correlation, s.avg_width, "
               "  s.most_common_vals::text, s.most_common_freqs::text, s.histogram_bounds::text, "
               "  coalesce(array_length(s.most_common_freqs, 1), 0), "
               "  coalesce(cardinality(s.histogram_bounds::text::text[]), 0), "
               "  coalesce((SELECT sum(f) FROM unnest(s.most_common_freqs) f), 0), "
               "  fn.nspname, fc.relname, fa.attname, "
               "  pg_get_serial_sequence($1, a.attname) "
               "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
               "LEFT JOIN pg_stats s ON s.schemaname = $2 AND s.tablename = $3 "
               "  AND s.attname = a.attname "
               "LEFT JOIN LATERAL (SELECT k.confrelid, k.confkey[1] AS fnum FROM pg_constraint k "
               "  WHERE k.conrelid = a.attrelid AND k.contype = 'f' AND cardinality(k.conkey) = 1 "
               "  AND k.conkey[1] = a.attnum LIMIT 1) fk ON true "
               "LEFT JOIN pg_class fc ON fc.oid = fk.confrelid "
               "LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace "
               "LEFT JOIN pg_attribute fa ON fa.attrelid = fk.confrelid AND fa.attnum = fk.fnum "
               "WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped "
               "ORDER BY a.attnum",
               3, p, &r) != PG_OK) {
        *err = xasprintf("reading the statistics of %s on PROD: %s", qn, pg_errmsg(prod));
        goto done;
    }
    out->n_cols = (size_t)PQntuples(r);
    out->cols = xcalloc(out->n_cols ? out->n_cols : 1, sizeof(dg_column_t));
    for (int i = 0; i < PQntuples(r); i++) {
        dg_column_t *c = &out->cols[i];
        const char *k = PQgetvalue(r, i, 2);
        c->name = xstrdup(PQgetvalue(r, i, 0));
        c->type = xstrdup(PQgetvalue(r, i, 1));
        c->kind = strcmp(k, "num") == 0    ? DG_NUM
                  : strcmp(k, "time") == 0 ? DG_TIME
                  : strcmp(k, "text") == 0 ? DG_TEXT
                  : strcmp(k, "uuid") == 0 ? DG_UUID
                                           : DG_OTHER;
        c->is_int = PQgetvalue(r, i, 3)[0] == 't';
        c->not_null = PQgetvalue(r, i, 4)[0] == 't';
        c->generated = PQgetvalue(r, i, 5)[0] == 't';
        c->unique = PQgetvalue(r, i, 6)[0] == 't';
        c->has_stats = PQgetvalue(r, i, 7)[0] == 't';
        c->null_frac = num_or(r, i, 8, 0);
        c->n_distinct = num_or(r, i, 9, c->unique ? -1 : -0.5);
        c->correlation = num_or(r, i, 10, 0);
        c->avg_width = (int)num_or(r, i, 11, 8);
        c->mcv = dup_or_null(r, i, 12);
        c->freqs = dup_or_null(r, i, 13);
        c->hist = dup_or_null(r, i, 14);
        c->n_mcv = (int)num_or(r, i, 15, 0);
        c->n_hist = (int)num_or(r, i, 16, 0);
        c->sum_freqs = num_or(r, i, 17, 0);
        c->fk_schema = dup_or_null(r, i, 18);
        c->fk_table = dup_or_null(r, i, 19);
        c->fk_column = dup_or_null(r, i, 20);
        c->serial_seq = dup_or_null(r, i, 21);
        c->boost = 1;
        if (c->n_hist < 2) {
            free(c->hist);
            c->hist = NULL;
            c->n_hist = 0;
        }
    }
    ok = true;
done:
    PQclear(r);
    free(qn);
    return ok;
}

/* The statement's parameters: each value gets the next $n. */
typedef struct {
    char *v[256];
    int n;
    int n_consts; /* arrays put in the one-row `hs` (parsed once, not per row) */
    sb_t *consts;
} params_t;

static const char *
param(params_t *ps, sb_t *sql, const char *value, const char *cast)
{
    if (ps->n == (int)(sizeof(ps->v) / sizeof(ps->v[0])))
        return NULL;
    ps->v[ps->n++] = xstrdup(value);
    sb_printf(sql, "$%d%s%s", ps->n, cast ? "::" : "", cast ? cast : "");
    return "";
}

static void
param_num(params_t *ps, sb_t *sql, double v)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%.17g", v);
    param(ps, sql, buf, "float8");
}

static void
param_int(params_t *ps, sb_t *sql, int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", (long long)v);
    param(ps, sql, buf, "bigint");
}

static const dg_table_t *
find_table(const dg_table_t *ts, size_t n, const char *schema, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ts[i].schema, schema) == 0 && strcmp(ts[i].name, name) == 0)
            return &ts[i];
    return NULL;
}

static const dg_column_t *
find_col(const dg_table_t *t, const char *name)
{
    for (size_t i = 0; i < t->n_cols; i++)
        if (strcmp(t->cols[i].name, name) == 0)
            return &t->cols[i];
    return NULL;
}

char *
datagen_int_key(const dg_table_t *t, const dg_column_t *c, int64_t *min, int64_t *step)
{
    /* the first and last histogram bounds are PROD's min and max */
    int64_t lo = 1, hi = 0;
    if (!c->is_int)
        return NULL;
    if (c->hist) {
        const char *s = c->hist + 1, *last = strrchr(c->hist, ',');
        lo = strtoll(s, NULL, 10);
        hi = last ? strtoll(last + 1, NULL, 10) : lo;
    }
    *min = lo;
    *step = t->rows > 1 && hi > lo ? (hi - lo) / (t->rows - 1) : 1;
    if (*step < 1)
        *step = 1;
    return xasprintf("%lld + (%%s - 1) * %lld", (long long)*min, (long long)*step);
}

/* A unique value of column c for row number `row` (SQL), e.g. "s.g". */
static bool
unique_expr(const dg_table_t *t, const dg_column_t *c, const char *row, params_t *ps, sb_t *e)
{
    int64_t min, step;
    char *k = datagen_int_key(t, c, &min, &step);
    if (k) {
        sb_puts(e, "(");
        param_int(ps, e, min);
        sb_printf(e, " + (%s - 1) * ", row);
        param_int(ps, e, step);
        sb_printf(e, ")::%s", c->type);
        free(k);
        return true;
    }
    switch (c->kind) {
    case DG_UUID:
        sb_printf(e, "md5(%s::text || 'convoy')::uuid", row);
        return true;
    case DG_TEXT:
        /* the shape of PROD's values, made unique by the row number */
        if (c->hist) {
            int slot = ps->n_consts++;
            sb_puts(ps->consts, ", ");
            param(ps, ps->consts, c->hist, "text::text[]");
            sb_printf(ps->consts, " AS k%d", slot);
            sb_printf(e, "(hs.k%d[1 + (%s %% ", slot, row);
            param_int(ps, e, c->n_hist);
            sb_printf(e, ")::int] || '.' || %s)::%s", row, c->type);
        } else {
            sb_printf(e, "('k' || %s)::%s", row, c->type);
        }
        return true;
    case DG_NUM:
        sb_printf(e, "%s::%s", row, c->type);
        return true;
    case DG_TIME:
        sb_puts(e, "(to_timestamp(1577836800 + ");
        sb_printf(e, "%s * 60))::%s", row, c->type);
        return true;
    case DG_OTHER:
        break;
    }
    return false;
}

/*
 * The distinct values to draw the histogram part from so that M draws give about `want`
 * distinct ones: D (1 - e^(-M/D)) = want, solved by bisection (want < M).
 */
static double
draw_pool(double want, double m)
{
    double lo = want, hi = want * 64;
    if (want <= 0 || m <= 0)
        return 1;
    if (want >= 0.95 * m)
        return -1; /* every draw distinct: use the row number */
    for (int i = 0; i < 60; i++) {
        double mid = (lo + hi) / 2;
        if (mid * (1 - exp(-m / mid)) < want)
            lo = mid;
        else
            hi = mid;
    }
    return ceil(hi);
}

/* Column i's value: nulls, MCVs at their frequencies, then the histogram. */
static bool
column_expr(const dg_table_t *ts,
            size_t n_ts,
            const dg_table_t *t,
            const dg_column_t *c,
            int i,
            params_t *ps,
            sb_t *e,
            sb_t *consts,
            char **err)
{
    double nf = c->null_frac, distinct, m, pool, mcv_end;
    char row[32];
    sb_t f, x;

    snprintf(row, sizeof(row), "s.g");
    if (c->fk_table) {
        const dg_table_t *pt = find_table(ts, n_ts, c->fk_schema, c->fk_table);
        const dg_column_t *pc = pt ? find_col(pt, c->fk_column) : NULL;
        char pick[64];
        if (pc == NULL) {
            *err = xasprintf("%s.%s references %s.%s, which this rehearsal did not generate",
                             t->name, c->name, c->fk_table, c->fk_column);
            return false;
        }
        if (pc->is_int && c->has_stats && (c->n_mcv > 0 || c->n_hist > 0)) {
            /* PROD's distribution of the column, snapped onto the generated parent keys
             * (min + (row - 1) x step): the MCVs stay when the parent keeps PROD's keys */
            dg_column_t plain = *c;
            int64_t pmin, pstep;
            char *k = datagen_int_key(pt, pc, &pmin, &pstep);
            free(k);
            plain.fk_table = NULL;
            plain.is_int = false;
            sb_puts(e, "(SELECT CASE WHEN v IS NULL THEN NULL ELSE (");
            param_int(ps, e, pmin);
            sb_puts(e, " + least(greatest(round((v::float8 - ");
            param_int(ps, e, pmin);
            sb_puts(e, ") / ");
            param_int(ps, e, pstep);
            sb_puts(e, "), 0), ");
            param_int(ps, e, pt->rows > 0 ? pt->rows - 1 : 0);
            sb_puts(e, ") * ");
            param_int(ps, e, pstep);
            sb_printf(e, ")::%s END FROM (SELECT ", c->type);
            if (!column_expr(ts, n_ts, t, &plain, i, ps, e, consts, err))
                return false;
            sb_puts(e, " AS v) fk)");
            return true;
        }
        sb_printf(e, "CASE WHEN s.u%d < ", i);
        param_num(ps, e, nf);
        sb_puts(e, " THEN NULL ELSE ");
        /* a parent row, drawn at random (uniformly) */
        snprintf(pick, sizeof(pick), "(1 + floor(s.v%d * %lld))::bigint", i,
                 (long long)(pt->rows > 0 ? pt->rows : 1));
        if (!unique_expr(pt, pc, pick, ps, e)) {
            *err = xasprintf("%s.%s references %s.%s of type %s, which convoy cannot generate",
                             t->name, c->name, c->fk_table, c->fk_column, pc->type);
            return false;
        }
        sb_puts(e, " END");
        return true;
    }
    if (c->unique) {
        if (nf > 0) {
            sb_printf(e, "CASE WHEN s.u%d < ", i);
            param_num(ps, e, nf);
            sb_puts(e, " THEN NULL ELSE ");
        }
        if (!unique_expr(t, c, row, ps, e)) {
            *err = xasprintf("%s.%s is unique and of type %s, which convoy cannot generate "
                             "uniquely",
                             t->name, c->name, c->type);
            return false;
        }
        if (nf > 0)
            sb_puts(e, " END");
        return true;
    }
    if (!c->has_stats || (c->n_mcv == 0 && c->n_hist == 0)) {
        if (nf >= 0.999 && !c->not_null) {
            sb_printf(e, "NULL::%s", c->type);
            return true;
        }
        switch (c->kind) {
        case DG_NUM:
            sb_printf(e, "(s.g %% 1000)::%s", c->type);
            return true;
        case DG_TEXT:
            sb_printf(e, "md5(s.g::text)::%s", c->type);
            return true;
        case DG_TIME:
            sb_printf(e, "now()::%s", c->type);
            return true;
        case DG_UUID:
            sb_puts(e, "gen_random_uuid()");
            return true;
        case DG_OTHER:
            break;
        }
        *err = xasprintf("%s.%s (%s) has no statistics on PROD: run ANALYZE %s on PROD", t->name,
                         c->name, c->type, t->name);
        return false;
    }
    /* thresholds: [null_frac, + f1, + f1 + f2, ...]: width_bucket gives 1 for the first
     * MCV ... n_mcv for the last (the NULL and histogram cases are tested first) */
    sb_init(&f);
    sb_printf(&f, "{%.17g", nf);
    mcv_end = nf;
    if (c->freqs) {
        double cum = nf;
        const char *s = c->freqs + 1;
        while (*s && *s != '}') {
            char *end;
            double v = strtod(s, &end);
            if (end == s)
                break;
            cum += v;
            sb_printf(&f, ",%.17g", cum);
            s = *end == ',' ? end + 1 : end;
        }
        mcv_end = cum; /* the last threshold exactly, not pg_stats' own sum of the floats */
    }
    sb_putc(&f, '}');
    if (c->n_mcv > 0) {
        sb_printf(consts, ", ");
        param(ps, consts, c->mcv, NULL);
        sb_printf(consts, "::text::%s[] AS m%d, ", c->type, i);
        param(ps, consts, f.data, "float8[]");
        sb_printf(consts, " AS f%d", i);
    }
    sb_free(&f);
    sb_printf(e, "CASE WHEN s.u%d < ", i);
    param_num(ps, e, nf);
    sb_puts(e, " THEN NULL ");
    if (c->n_mcv > 0) {
        sb_printf(e, "WHEN s.u%d < ", i);
        param_num(ps, e, mcv_end);
        sb_printf(e, " THEN hs.m%d[least(width_bucket(s.u%d, hs.f%d), %d)] ", i, i, i, c->n_mcv);
    }
    sb_puts(e, "ELSE ");
    if (c->n_hist == 0) {
        /* no histogram: every value is an MCV; the rest of the mass goes to them evenly */
        sb_printf(e, "hs.m%d[1 + floor(s.v%d * %d)::int] END", i, i, c->n_mcv);
        return true;
    }
    /* the histogram's distinct values: n_distinct (a count, or a fraction of the rows) less
     * the MCVs; m: the rows that draw from it */
    distinct = c->n_distinct < 0 ? -c->n_distinct * (double)t->rows : c->n_distinct;
    distinct = distinct * c->boost - c->n_mcv;
    m = (double)t->rows * (1 - nf - c->sum_freqs);
    if (distinct < 1)
        distinct = 1;
    pool = fabs(c->correlation) > 0.5 ? -2 : draw_pool(distinct, m);
    /* X in [0, n_hist - 1): the position in the histogram; the row order when the column
     * is correlated with it, else a draw from `pool` equally likely values */
    sb_init(&x);
    sb_puts(&x, "((");
    if (pool == -2) {
        sb_puts(&x, "(s.g - 1)::float8 / ");
        param_num(ps, &x, (double)(t->rows > 0 ? t->rows : 1));
    } else if (pool < 0) {
        sb_puts(&x, "((s.g * 2654435761) % ");
        param_int(ps, &x, t->rows > 0 ? t->rows : 1);
        sb_puts(&x, ")::float8 / ");
        param_num(ps, &x, (double)(t->rows > 0 ? t->rows : 1));
    } else {
        sb_printf(&x, "(floor(s.v%d * ", i);
        param_num(ps, &x, pool);
        sb_puts(&x, ") + 0.5) / ");
        param_num(ps, &x, pool);
    }
    sb_puts(&x, ") * ");
    param_int(ps, &x, c->n_hist - 1);
    sb_puts(&x, ")");
    if (c->correlation < -0.5 && pool == -2) {
        /* descending with the row order */
        char *flip = xasprintf("(%d - 1 - 1e-9 - %s)", c->n_hist, x.data);
        sb_free(&x);
        sb_init(&x);
        sb_puts(&x, flip);
        free(flip);
    }
    sb_puts(consts, ", ");
    if (c->kind == DG_NUM || c->kind == DG_TIME) {
        /* the bounds as float8 (epoch seconds for times), once per statement */
        sb_printf(consts, "(SELECT array_agg(%s ORDER BY o) FROM unnest(",
                  c->kind == DG_TIME ? "extract(epoch FROM v)::float8" : "v::float8");
        param(ps, consts, c->hist, NULL);
        sb_printf(consts, "::text::%s[]) WITH ORDINALITY AS u(v, o)) AS h%d", c->type, i);
        sb_printf(e,
                  "(%shs.h%d[floor(%s)::int + 1] + (hs.h%d[floor(%s)::int + 2] - "
                  "hs.h%d[floor(%s)::int + 1]) * (%s - floor(%s))%s)::%s END",
                  c->kind == DG_TIME ? "to_timestamp(" : "", i, x.data, i, x.data, i, x.data,
                  x.data, x.data, c->kind == DG_TIME ? ")" : "", c->type);
    } else {
        param(ps, consts, c->hist, NULL);
        sb_printf(consts, "::text::text[] AS h%d", i);
        if (c->kind == DG_TEXT && distinct > c->n_hist)
            /* more distinct values than bounds: a bound and the position inside its bucket */
            sb_printf(e,
                      "(hs.h%d[floor(%s)::int + 1] || ' ' || floor(%s * 1000000)::bigint)::%s END",
                      i, x.data, x.data, c->type);
        else
            sb_printf(e, "hs.h%d[floor(%s)::int + 1]::%s END", i, x.data, c->type);
    }
    sb_free(&x);
    return true;
}

/*
 * ANALYZE's n_distinct is an estimate from a sample (Haas and Stokes), so drawing exactly
 * PROD's estimate gives a lower estimate on STAGING for mid-range counts. After the first fill,
 * each column more than 8% off gets its target scaled by the ratio (*again: fill once more).
 */
static bool
calibrate(pg_t *staging, dg_table_t *t, const char *qn, bool *again)
{
    const char *p[3] = {t->schema, t->name, NULL};
    PGresult *r = NULL;
    char *s = xasprintf("ANALYZE %s", qn);
    pg_status_t st = pg_exec(staging, s);

    free(s);
    *again = false;
    if (st != PG_OK)
        return false;
    if (pg_run(staging,
               "SELECT attname, n_distinct FROM pg_stats WHERE schemaname = $1 AND tablename = $2",
               2, p, &r) != PG_OK) {
        PQclear(r);
        return false;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        dg_column_t *c = (dg_column_t *)find_col(t, PQgetvalue(r, i, 0));
        double want, got, snd = strtod(PQgetvalue(r, i, 1), NULL);
        if (c == NULL || c->unique || c->n_hist == 0 || c->n_distinct == 0)
            continue;
        /* both as counts of STAGING's rows */
        want = c->n_distinct < 0 ? -c->n_distinct * (double)t->rows : c->n_distinct;
        got = snd < 0 ? -snd * (double)t->rows : snd;
        if (got <= 0 || fabs(got - want) <= 0.08 * want)
            continue;
        c->boost *= want / got;
        if (c->boost > 4)
            c->boost = 4;
        if (c->boost < 0.25)
            c->boost = 0.25;
        *again = true;
    }
    PQclear(r);
    return true;
}

bool
datagen_fill(pg_t *staging,
             const dg_table_t *tables,
             size_t n_tables,
             dg_table_t *t,
             bool time_copy,
             char **err)
{
    qname_t q = {t->schema, t->name};
    char *qn = qname_sql(&q);
    params_t ps = {0};
    sb_t sql, cols, exprs, draws, consts;
    bool ok = false;
    int64_t t0;
    PGresult *r = NULL;

    sb_init(&sql);
    sb_init(&cols);
    sb_init(&exprs);
    sb_init(&draws);
    sb_init(&consts);
    if (pg_exec(staging, "SET TimeZone = 'UTC'") != PG_OK)
        goto sqlerr;
    for (int round = 0; round < 2; round++) {
        bool again = false;
        for (int i = 0; i < ps.n; i++)
            free(ps.v[i]);
        memset(&ps, 0, sizeof(ps));
        sb_free(&sql);
        sb_free(&cols);
        sb_free(&exprs);
        sb_free(&draws);
        sb_free(&consts);
        sb_init(&sql);
        sb_init(&cols);
        sb_init(&exprs);
        sb_init(&draws);
        sb_init(&consts);
        sb_puts(&consts, "1 AS one");
        ps.consts = &consts;
        for (size_t i = 0; i < t->n_cols; i++) {
            const dg_column_t *c = &t->cols[i];
            char *id;
            if (c->generated)
                continue;
            id = ident_sql(c->name);
            sb_printf(&cols, "%s%s", cols.len ? ", " : "", id);
            free(id);
            sb_printf(&draws, ", random() AS u%zu, random() AS v%zu", i, i);
            if (exprs.len)
                sb_puts(&exprs, ",\n  ");
            if (!column_expr(tables, n_tables, t, c, (int)i, &ps, &exprs, &consts, err))
                goto done;
            if (ps.n >= 250) {
                *err = xasprintf("%s has too many columns for one generating statement", qn);
                goto done;
            }
        }
        sb_printf(&sql,
                  "INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE\nSELECT\n  %s\nFROM (SELECT %s "
                  "OFFSET 0) hs, (SELECT g%s FROM generate_series(1, ",
                  qn, cols.data, exprs.data, consts.data, draws.data);
        param_int(&ps, &sql, t->rows);
        sb_puts(&sql, ") g) s");
        log_debug("datagen %s: %s", qn, sql.data);
        t0 = now_mono_ms();
        if (pg_run(staging, sql.data, ps.n, (const char *const *)ps.v, NULL) != PG_OK)
            goto sqlerr;
        if (round == 0)
            t->gen_ms = (double)(now_mono_ms() - t0);
        else
            t->calibrate_ms = (double)(now_mono_ms() - t0);
        if (round == 1 || !calibrate(staging, t, qn, &again))
            break;
        if (!again)
            break;
        /* once more with the distinct counts corrected; nothing references it yet */
        {
            char *tr = xasprintf("TRUNCATE %s CASCADE", qn);
            pg_status_t st = pg_exec(staging, tr);
            free(tr);
            if (st != PG_OK)
                goto sqlerr;
        }
    }
    /* identity and serial sequences continue after the generated keys */
    for (size_t i = 0; i < t->n_cols; i++) {
        const char *p[2] = {qn, t->cols[i].name};
        if (t->cols[i].serial_seq == NULL)
            continue;
        {
            char *id = ident_sql(t->cols[i].name);
            char *s = xasprintf("SELECT setval(pg_get_serial_sequence($1, $2), "
                                "coalesce((SELECT max(%s) FROM %s), 0) + 1, false)",
                                id, qn);
            pg_status_t st = pg_run(staging, s, 2, p, NULL);
            free(s);
            free(id);
            if (st != PG_OK)
                goto sqlerr;
        }
    }
    if (time_copy) {
        /* the reference: a plain INSERT ... SELECT of the same rows into the same shape */
        qname_t cq = {t->schema, (char *)"convoy_rehearse_copy"};
        char *cn = qname_sql(&cq);
        char *s = xasprintf("DROP TABLE IF EXISTS %s; CREATE TABLE %s (LIKE %s INCLUDING ALL)", cn,
                            cn, qn);
        const char *p1[1] = {qn};
        pg_status_t st = pg_exec(staging, s);
        free(s);
        /* ... with the same foreign keys (LIKE copies none), so both pay their checks */
        if (st == PG_OK &&
            (st = pg_run(staging,
                         "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = "
                         "to_regclass($1) AND contype = 'f'",
                         1, p1, &r)) == PG_OK) {
            for (int k = 0; k < PQntuples(r) && st == PG_OK; k++) {
                s = xasprintf("ALTER TABLE %s ADD %s", cn, PQgetvalue(r, k, 0));
                st = pg_exec(staging, s);
                free(s);
            }
        }
        PQclear(r);
        r = NULL;
        if (st == PG_OK) {
            s = xasprintf("INSERT INTO %s OVERRIDING SYSTEM VALUE SELECT * FROM %s", cn, qn);
            t0 = now_mono_ms();
            st = pg_exec(staging, s);
            t->copy_ms = (double)(now_mono_ms() - t0);
            free(s);
        }
        s = xasprintf("DROP TABLE IF EXISTS %s", cn);
        if (st == PG_OK)
            st = pg_exec(staging, s);
        free(s);
        free(cn);
        if (st != PG_OK)
            goto sqlerr;
    }
    ok = true;
    goto done;
sqlerr:
    *err = xasprintf("generating %s on STAGING: %s", qn, pg_errmsg(staging));
done:
    PQclear(r);
    for (int i = 0; i < ps.n; i++)
        free(ps.v[i]);
    sb_free(&sql);
    sb_free(&cols);
    sb_free(&exprs);
    sb_free(&draws);
    sb_free(&consts);
    free(qn);
    return ok;
}

json_t *
datagen_compare(pg_t *prod, pg_t *staging, const dg_table_t *t, char **err)
{
    json_t *cols = json_array();
    PGresult *r = NULL;
    const char *p[3] = {t->schema, t->name, NULL};
    int64_t srows = 0;
    char *qn;
    qname_t q = {t->schema, t->name};

    qn = qname_sql(&q);
    p[2] = qn;
    if (pg_run(staging,
               "SELECT a.attname, s.null_frac, s.n_distinct, s.most_common_vals::text, "
               "(SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass($3)) "
               "FROM pg_attribute a LEFT JOIN pg_stats s ON s.schemaname = $1 AND "
               "s.tablename = $2 AND s.attname = a.attname WHERE a.attrelid = to_regclass($3) "
               "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
               3, p, &r) != PG_OK) {
        *err = xasprintf("reading STAGING's statistics of %s: %s", qn, pg_errmsg(staging));
        free(qn);
        json_decref(cols);
        return NULL;
    }
    (void)prod;
    for (int i = 0; i < PQntuples(r); i++) {
        const dg_column_t *c = find_col(t, PQgetvalue(r, i, 0));
        double snf = num_or(r, i, 1, 0), snd = num_or(r, i, 2, 0), pnd, snd_cmp;
        json_t *o;
        const char *mp[2];
        PGresult *mr = NULL;
        int shared = -1, top = 0;
        bool nd_ok;
        srows = strtoll(PQgetvalue(r, i, 4), NULL, 10);
        if (c == NULL || c->generated)
            continue;
        /* n_distinct: compare as a fraction of the rows when PROD's is one, else as a count */
        pnd = c->n_distinct;
        if (pnd < 0)
            snd_cmp = snd < 0 ? snd : -snd / (double)(srows > 0 ? srows : 1);
        else
            snd_cmp = snd >= 0 ? snd : -snd * (double)srows;
        nd_ok =
            fabs(pnd) < 1e-9 ? fabs(snd_cmp) < 1e-9 : fabs(snd_cmp - pnd) <= 0.2 * fabs(pnd) + 1e-9;
        if (c->mcv && !PQgetisnull(r, i, 3)) {
            mp[0] = c->mcv;
            mp[1] = PQgetvalue(r, i, 3);
            if (pg_run(staging,
                       "SELECT count(*) FILTER (WHERE x = ANY ($2::text::text[])), count(*) "
                       "FROM unnest($1::text::text[]) x",
                       2, mp, &mr) == PG_OK) {
                shared = (int)strtol(PQgetvalue(mr, 0, 0), NULL, 10);
                top = (int)strtol(PQgetvalue(mr, 0, 1), NULL, 10);
            }
            PQclear(mr);
        } else if (c->mcv) {
            shared = 0;
            top = c->n_mcv;
        }
        o = json_pack("{s:s, s:f, s:f, s:b, s:f, s:f, s:b}", "column", c->name, "prod_null_frac",
                      c->null_frac, "staging_null_frac", snf, "null_frac_ok",
                      fabs(snf - c->null_frac) <= 0.02, "prod_n_distinct", pnd,
                      "staging_n_distinct", snd_cmp, "n_distinct_ok", nd_ok);
        /* an MCV list that covers under 1% of the rows (a near-unique column) is the
         * sample's noise, not a property of the data: not compared */
        if (top > 0 && c->sum_freqs >= 0.01) {
            json_object_set_new(o, "mcv_top", json_integer(top));
            json_object_set_new(o, "mcv_shared", json_integer(shared));
            json_object_set_new(o, "mcv_ok", json_boolean(shared * 10 >= top * 6));
        }
        json_array_append_new(cols, o);
    }
    PQclear(r);
    free(qn);
    return json_pack("{s:s, s:I, s:I, s:o}", "table", t->name, "prod_rows",
                     (json_int_t)t->prod_rows, "staging_rows", (json_int_t)srows, "columns", cols);
}

void
datagen_table_free(dg_table_t *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n_cols; i++) {
        dg_column_t *c = &t->cols[i];
        free(c->name);
        free(c->type);
        free(c->mcv);
        free(c->freqs);
        free(c->hist);
        free(c->fk_schema);
        free(c->fk_table);
        free(c->fk_column);
        free(c->serial_seq);
    }
    free(t->cols);
    free(t->schema);
    free(t->name);
    memset(t, 0, sizeof(*t));
}
