/* compat.c: an app version's corpus against the live schema (see include/convoy/compat.h). */
#include "convoy/compat.h"

#include "convoy/pg.h"
#include "convoy/state.h"
#include "convoy/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
add(json_t *rep, const compat_stmt_t *c, const char *level, char *reason)
{
    json_array_append_new(rep, json_pack("{s:i, s:s, s:s, s:s}", "line", c->line, "sql", c->sql,
                                         "level", level, "reason", reason));
    free(reason);
}

/* The NOT NULL columns of the INSERT's table without a default that it does not name. */
static void
omitted_not_null(pg_t *pg, const compat_stmt_t *c, json_t *rep, bool *ok)
{
    char *tbl = c->schema ? xasprintf("%s.%s", c->schema, c->table) : xstrdup(c->table);
    sb_t cols;
    const char *p[2];
    PGresult *r = NULL;

    /* the names as the INSERT wrote them, as a text[] literal parameter */
    sb_init(&cols);
    sb_putc(&cols, '{');
    for (size_t i = 0; i < c->n_cols; i++) {
        sb_puts(&cols, i ? ",\"" : "\"");
        for (const char *q = c->cols[i]; *q; q++) {
            if (*q == '"' || *q == '\\')
                sb_putc(&cols, '\\');
            sb_putc(&cols, *q);
        }
        sb_putc(&cols, '"');
    }
    sb_putc(&cols, '}');
    p[0] = tbl;
    p[1] = cols.data;
    if (pg_run(pg,
               "SELECT a.attname FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND "
               "a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull AND NOT a.atthasdef AND "
               "a.attidentity = '' AND a.attgenerated = '' AND a.attname <> ALL ($2::text[]) "
               "ORDER BY a.attnum",
               2, p, &r) == PG_OK) {
        for (int i = 0; i < PQntuples(r); i++) {
            add(rep, c, "fail",
                xasprintf("the INSERT omits %s.%s, which is NOT NULL with no default: it fails "
                          "for every row this app version writes (give the column a DEFAULT, or "
                          "keep it nullable until every writer sets it)",
                          c->table, PQgetvalue(r, i, 0)));
            *ok = false;
        }
    }
    PQclear(r);
    sb_free(&cols);
    free(tbl);
}

bool
engine_compat(const compat_req_t *req, bool *ok, json_t **report, char **err)
{
    char *text = read_file(req->corpus, NULL);
    compat_stmt_t *v = NULL;
    size_t n = 0;
    pg_t *pg;
    json_t *rep;

    *report = NULL;
    *ok = true;
    if (text == NULL) {
        *err = xasprintf("%s: cannot read the corpus", req->corpus);
        return false;
    }
    if (!compat_parse_corpus(req->corpus, text, &v, &n, err)) {
        free(text);
        return false;
    }
    free(text);
    if ((pg = pg_connect(req->conninfo, err)) == NULL) {
        compat_stmts_free(v, n);
        return false;
    }
    state_set_actor(req->actor);
    rep = json_array();
    for (size_t i = 0; i < n; i++) {
        const compat_stmt_t *c = &v[i];
        char *sql = xasprintf("PREPARE convoy_compat AS %s", c->sql);
        /* only prepared, never run; rolled back either way */
        pg_exec(pg, "BEGIN");
        if (pg_exec(pg, sql) != PG_OK) {
            add(rep, c, "fail",
                xasprintf("does not prepare against the schema: %s", pg_errmsg(pg)));
            *ok = false;
        } else {
            if (c->is_insert && !c->no_col_list)
                omitted_not_null(pg, c, rep, ok);
            if (c->is_insert && c->no_col_list)
                add(rep, c, "warn",
                    xstrdup("an INSERT without a column list breaks (or shifts values) when a "
                            "column is added: name the columns"));
            if (c->select_star)
                add(rep, c, "warn",
                    xstrdup("SELECT * returns the new column too: a prepared statement fails "
                            "with \"cached plan must not change result type\" after ADD "
                            "COLUMN; name the columns"));
        }
        pg_exec(pg, "ROLLBACK");
        pg_exec(pg, "DEALLOCATE ALL"); /* a prepared statement outlives the rollback */
        free(sql);
    }
    {
        char *txt = json_dumps(rep, JSON_COMPACT);
        const char *p[4] = {req->name, req->version, *ok ? "true" : "false", txt};
        audit_entry_t a = {req->name, 0, "compat", NULL, NULL, -1, -1, *ok ? "passed" : "failed",
                           txt,       0};
        if (pg_run(pg,
                   "INSERT INTO convoy.compat (migration, version, ok, report) VALUES ($1, $2, "
                   "$3::boolean, $4::jsonb)",
                   4, p, NULL) != PG_OK ||
            !state_audit(pg, &a)) {
            *err = xasprintf("recording the compatibility check: %s", pg_errmsg(pg));
            free(txt);
            json_decref(rep);
            compat_stmts_free(v, n);
            pg_close(&pg);
            return false;
        }
        pg_exec(pg, "NOTIFY convoy, 'compat'");
        free(txt);
    }
    *report = rep;
    compat_stmts_free(v, n);
    pg_close(&pg);
    return true;
}
