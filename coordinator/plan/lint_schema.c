/* lint_schema.c: offline catalog facts from a schema file's CREATE TABLE statements. */
#include "convoy/lint.h"
#include "convoy/util.h"
#include "lint_int.h"
#include "pgq.h"

#include <stdlib.h>
#include <string.h>

static bool
column_not_null(const PgQuery__ColumnDef *cd, bool *primary)
{
    bool nn = cd->is_not_null;

    *primary = false;
    for (size_t i = 0; i < cd->n_constraints; i++) {
        const PgQuery__Node *n = cd->constraints[i];
        if (n->node_case != PG_QUERY__NODE__NODE_CONSTRAINT)
            continue;
        if (n->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_NOTNULL)
            nn = true;
        if (n->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY)
            nn = *primary = true;
        if (n->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_IDENTITY)
            nn = true;
    }
    return nn;
}

static void
add_pk(table_fact_t *t, const char *col)
{
    for (size_t i = 0; i < t->n_pk; i++)
        if (strcmp(t->pk_cols[i], col) == 0)
            return;
    t->pk_cols = xrealloc(t->pk_cols, (t->n_pk + 1) * sizeof(char *));
    t->pk_types = xrealloc(t->pk_types, (t->n_pk + 1) * sizeof(char *));
    t->pk_cols[t->n_pk] = xstrdup(col);
    t->pk_types[t->n_pk++] = xstrdup("");
}

static void
add_table(facts_t *f, const PgQuery__CreateStmt *cs)
{
    table_fact_t *t;

    f->tables = xrealloc(f->tables, (f->n_tables + 1) * sizeof(*f->tables));
    t = &f->tables[f->n_tables++];
    memset(t, 0, sizeof(*t));
    t->schema_given =
        PGQ_STR_SET(cs->relation->schemaname) ? xstrdup(cs->relation->schemaname) : NULL;
    t->name_given = xstrdup(cs->relation->relname);
    t->schema = xstrdup(t->schema_given ? t->schema_given : "public");
    t->name = xstrdup(cs->relation->relname);
    t->exists = true;
    t->has_rows = true; /* unknown: a schema file says nothing about rows */
    t->rows = -1;
    t->bytes = -1;
    for (size_t i = 0; i < cs->n_table_elts; i++) {
        const PgQuery__Node *e = cs->table_elts[i];
        if (e->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF && e->column_def->type_name) {
            const PgQuery__ColumnDef *cd = e->column_def;
            bool primary;
            column_fact_t *c;
            t->cols = xrealloc(t->cols, (t->n_cols + 1) * sizeof(*t->cols));
            c = &t->cols[t->n_cols++];
            memset(c, 0, sizeof(*c));
            c->name = xstrdup(cd->colname);
            c->type = pgq_deparse_type(cd->type_name);
            if (c->type == NULL)
                c->type = xstrdup("");
            c->not_null = column_not_null(cd, &primary);
            if (primary)
                add_pk(t, cd->colname);
        } else if (e->node_case == PG_QUERY__NODE__NODE_CONSTRAINT &&
                   e->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY) {
            for (size_t k = 0; k < e->constraint->n_keys; k++)
                if (pgq_node_str(e->constraint->keys[k]))
                    add_pk(t, pgq_node_str(e->constraint->keys[k]));
        }
    }
}

bool
lint_schema_facts(const char *path, const char *sql, facts_t *f, char **err)
{
    pgq_error_t e = {0};
    PgQuery__ScanResult *tokens = NULL;
    PgQuery__ParseResult *pr = NULL;

    if ((tokens = pgq_scan(sql, &e)) == NULL || (pr = pgq_parse(sql, tokens, &e)) == NULL) {
        lint_cursor_t cur = {.text = sql};
        int line, col;
        lint_cursor_pos(&cur, e.offset, &line, &col);
        *err = xasprintf("%s:%d:%d: %s (give the schema as SQL, e.g. pg_dump --schema-only)", path,
                         line, col, e.message);
        pgq_scan_free(tokens);
        return false;
    }
    for (size_t i = 0; i < pr->n_stmts; i++) {
        const PgQuery__Node *s = pr->stmts[i]->stmt;
        if (s->node_case == PG_QUERY__NODE__NODE_CREATE_STMT && s->create_stmt->relation)
            add_table(f, s->create_stmt);
    }
    pgq_tree_free(pr);
    pgq_scan_free(tokens);
    return true;
}
