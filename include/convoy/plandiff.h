/*
 * plandiff.h: pure comparison of two EXPLAIN (FORMAT JSON) plans of one statement (before and
 * after a migration), and whether a statement's text touches given tables (libpg_query).
 *
 * No I/O: coordinator/engine/explain.c gets the plans from the server and calls these; they are
 * tested table-driven in tests/unit/test_plandiff.c.
 */
#ifndef CONVOY_PLANDIFF_H
#define CONVOY_PLANDIFF_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define PLANDIFF_DEFAULT_THRESHOLD_PCT 20.0

typedef struct {
    /* an estimated total cost rise above this many percent is a regression */
    double threshold_pct;
    /* index names the migration creates, as the report names them */
    const char *const *created;
    size_t n_created;
    /* index names the migration drops */
    const char *const *dropped;
    size_t n_dropped;
    /* true when the after plan was made without the dropped indexes (hypopg_hide_index, or a
     * real "after" on STAGING); false: a before plan using one of them is a regression by
     * itself, whether or not there is an after plan */
    bool drops_simulated;
    /* an index name in the after plan (hypopg's "<16384>btree_users_email") -> the name the
     * migration gives it; parallel arrays */
    const char *const *alias_from;
    const char *const *alias_to;
    size_t n_aliases;
} plandiff_opts_t;

typedef struct {
    bool compared;           /* there was an after plan */
    bool changed;            /* node types, join order or index choice differ */
    bool node_types_changed; /* the multiset of node types differs */
    bool join_order_changed; /* the same relations, scanned in another order */
    bool index_changed;      /* another set of indexes is used */
    double before_cost;      /* root "Total Cost"; -1 unknown */
    double after_cost;       /* -1 unknown or no after plan */
    double cost_change_pct;  /* (after - before) / before * 100; 0 when not compared */
    bool regression;
    char **changes; /* "users: Seq Scan -> Index Scan using users_email_idx" */
    size_t n_changes;
    char **reasons; /* why it is a regression */
    size_t n_reasons;
    char **uses_created; /* created indexes the after plan uses */
    size_t n_uses_created;
    char **uses_dropped; /* dropped indexes the before plan uses */
    size_t n_uses_dropped;
    char *before_shape; /* "Limit > Seq Scan on users" (preorder, " > " down, ", " across) */
    char *after_shape;  /* NULL when not compared */
} plandiff_t;

/*
 * Compares before with after (either may be EXPLAIN's whole output `[{"Plan": ...}]`, one
 * element of it, or a plan node). after may be NULL: only the before plan is read (which
 * dropped indexes it uses). Returns false with *err (caller frees) when a plan has no node
 * tree; *out is then zeroed. Free *out with plandiff_free.
 */
bool plandiff_compare(const json_t *before,
                      const json_t *after,
                      const plandiff_opts_t *o,
                      plandiff_t *out,
                      char **err);
void plandiff_free(plandiff_t *d);
/* The comparison as a JSON object; caller decrefs. */
json_t *plandiff_to_json(const plandiff_t *d);

/* A table, resolved: schema and name as the catalog spells them (not quoted). */
typedef struct {
    const char *schema;
    const char *name;
} plandiff_table_t;

typedef enum {
    PLANDIFF_STMT_UNPARSED, /* libpg_query rejects the text, or it holds several statements */
    PLANDIFF_STMT_OTHER,    /* a utility statement (EXPLAIN, SET, BEGIN, DDL...): not explained */
    PLANDIFF_STMT_DML,      /* SELECT, INSERT, UPDATE, DELETE: EXPLAIN can plan it */
} plandiff_stmt_kind_t;

/*
 * Classifies sql (pg_stat_statements' normalized text, with $1 placeholders) and, for DML,
 * sets *touches when a relation it names (FROM, JOIN, target, subqueries, CTE bodies) is one
 * of tables: the names match, and the schema too when the statement qualifies it (an
 * unqualified name matches a table of that name in any schema). deparsed (optional) gets the
 * statement as libpg_query's deparser writes it, for DML (caller frees), else NULL: the text
 * convoy PREPAREs is parse-validated, never the view's text as is.
 */
plandiff_stmt_kind_t plandiff_stmt_touches(
    const char *sql, const plandiff_table_t *tables, size_t n, bool *touches, char **deparsed);

#endif
