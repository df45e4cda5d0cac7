/*
 * compat.h: an application version's query corpus checked against the schema as it stands:
 * the static part (pure: what each statement reads and writes, from libpg_query) and the
 * live part (engine_compat: PREPARE in a rolled-back transaction, NOT NULL columns an INSERT
 * omits). A failing check fails the migration's expand gate, naming the statement.
 */
#ifndef CONVOY_COMPAT_H
#define CONVOY_COMPAT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *sql; /* the statement as written */
    int line;  /* in the corpus file */
    bool is_insert;
    char *schema; /* INSERT's target (schema NULL when unqualified) */
    char *table;
    char **cols; /* INSERT's column list */
    size_t n_cols;
    bool no_col_list; /* INSERT without a column list */
    bool select_star; /* SELECT * (or t.*) somewhere */
} compat_stmt_t;

/* Splits and reads a corpus (SQL separated by ';'). False with *err (file:line). */
bool
compat_parse_corpus(const char *path, const char *text, compat_stmt_t **out, size_t *n, char **err);
void compat_stmts_free(compat_stmt_t *v, size_t n);

typedef struct {
    const char *conninfo;
    const char *name;    /* the migration */
    const char *version; /* the app version the corpus belongs to */
    const char *corpus;  /* path */
    const char *actor;
} compat_req_t;

/* Runs and records the checks: *ok, and *report [{line, sql, level, reason}] (owned). */
bool engine_compat(const compat_req_t *req, bool *ok, json_t **report, char **err);

#endif
