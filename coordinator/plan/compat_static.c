/* compat_static.c: what each statement of an app's query corpus writes and reads (pure). */
#include "convoy/compat.h"
#include "convoy/util.h"
#include "pgq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool
find_star(const ProtobufCMessage *msg, void *arg)
{
    bool *star = arg;
    if (msg->descriptor == &pg_query__a__star__descriptor)
        *star = true;
    return !*star;
}

static int
line_of(const char *text, size_t off)
{
    int line = 1;
    for (size_t i = 0; i < off && text[i]; i++)
        line += text[i] == '\n';
    return line;
}

bool
compat_parse_corpus(const char *path, const char *text, compat_stmt_t **out, size_t *n, char **err)
{
    pgq_error_t e = {0};
    PgQuery__ScanResult *scan = pgq_scan(text, &e);
    PgQuery__ParseResult *tree = scan ? pgq_parse(text, scan, &e) : NULL;
    size_t len = strlen(text);

    *out = NULL;
    *n = 0;
    if (tree == NULL) {
        *err = xasprintf("%s:%d: %s", path, line_of(text, e.offset), e.message);
        pgq_scan_free(scan);
        return false;
    }
    *out = xcalloc(tree->n_stmts ? tree->n_stmts : 1, sizeof(compat_stmt_t));
    for (size_t i = 0; i < tree->n_stmts; i++) {
        PgQuery__RawStmt *raw = tree->stmts[i];
        PgQuery__Node *st = raw->stmt;
        size_t start = (size_t)raw->stmt_location;
        size_t end = raw->stmt_len ? start + (size_t)raw->stmt_len : len;
        compat_stmt_t *c = &(*out)[(*n)++];

        /* the statement itself: past blanks and whole-line -- comments before it */
        for (;;) {
            while (start < end && (text[start] == ' ' || text[start] == '\n' ||
                                   text[start] == '\t' || text[start] == '\r'))
                start++;
            if (start + 1 < end && text[start] == '-' && text[start + 1] == '-') {
                const char *nl = memchr(text + start, '\n', end - start);
                start = nl ? (size_t)(nl - text) + 1 : end;
                continue;
            }
            break;
        }
        c->sql = xstrndup(text + start, end - start);
        c->line = line_of(text, start);
        pgq_walk((const ProtobufCMessage *)st, find_star, &c->select_star);
        if (st->node_case == PG_QUERY__NODE__NODE_INSERT_STMT) {
            PgQuery__InsertStmt *ins = st->insert_stmt;
            c->is_insert = true;
            c->table = xstrdup(ins->relation->relname);
            c->schema =
                PGQ_STR_SET(ins->relation->schemaname) ? xstrdup(ins->relation->schemaname) : NULL;
            c->no_col_list = ins->n_cols == 0;
            c->cols = xcalloc(ins->n_cols ? ins->n_cols : 1, sizeof(char *));
            for (size_t k = 0; k < ins->n_cols; k++)
                if (ins->cols[k]->node_case == PG_QUERY__NODE__NODE_RES_TARGET)
                    c->cols[c->n_cols++] = xstrdup(ins->cols[k]->res_target->name);
            /* INSERT ... SELECT * is about the source, not the shape written */
        }
    }
    pgq_tree_free(tree);
    pgq_scan_free(scan);
    return true;
}

void
compat_stmts_free(compat_stmt_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].sql);
        free(v[i].schema);
        free(v[i].table);
        strv_free(v[i].cols, v[i].n_cols);
    }
    free(v);
}
