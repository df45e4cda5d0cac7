/*
 * facts.h: what the live catalog says about the tables a migration touches.
 *
 * catalog.c fills these from a database; the planner only reads them. With no
 * database, facts.live is false and the planner states its assumptions.
 */
#ifndef CONVOY_FACTS_H
#define CONVOY_FACTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *name;
    char *type; /* format_type() */
    bool not_null;
    char *default_sql; /* pg_get_expr of its DEFAULT, or NULL */
    char *used_by;     /* what depends on it (indexes, constraints, views, sequences), or NULL */
} column_fact_t;

/* A convoy rename sync trigger (expand/contract): keeps `from` and `to` equal. */
typedef struct {
    char *trigger;
    char *function; /* in schema convoy */
    char *from, *to;
} rename_sync_fact_t;

typedef struct {
    char *name;
    char **cols; /* key column names in order; "" for an expression */
    size_t n_cols;
    bool valid;
    bool unique;
} index_fact_t;

typedef struct {
    char *name;
    char type; /* pg_constraint.contype */
    bool validated;
} constraint_fact_t;

/* One partition of a partitioned table. */
typedef struct {
    char *schema;
    char *name;
    bool partitioned;   /* itself partitioned (nested) */
    char **index_names; /* its indexes, for PostgreSQL's name choice */
    size_t n_index_names;
} partition_fact_t;

typedef struct {
    char *schema_given; /* as the migration wrote it (may be NULL) */
    char *name_given;
    bool exists;
    char *schema; /* resolved */
    char *name;
    int64_t rows;  /* estimate; -1 unknown */
    int64_t bytes; /* heap + toast + indexes */
    bool has_rows;
    column_fact_t *cols;
    size_t n_cols;
    char **pk_cols;
    char **pk_types;
    size_t n_pk;
    index_fact_t *indexes;
    size_t n_indexes;
    constraint_fact_t *constraints;
    size_t n_constraints;
    bool partitioned; /* relkind 'p': rows and bytes are its partitions' sums */
    partition_fact_t *parts;
    size_t n_parts;
    rename_sync_fact_t *renames;
    size_t n_renames;
} table_fact_t;

/* Result of asking the server how ADD COLUMN ... DEFAULT behaves. */
typedef struct {
    size_t action; /* index into migration.actions */
    bool probed;
    bool fast;      /* pg_attribute.atthasmissing after the probe */
    bool immutable; /* the default is immutable (not merely stable) */
    bool domain_constrained;
    char *error; /* the server rejected the type or default */
    /* the column's -- convoy:backfill expression, evaluated read-only over a sample */
    char *backfill_error; /* the server's message when a sampled row fails it */
    char *backfill_key;   /* that row's primary key, "(id)=(42)" */
    int64_t backfill_sampled;
} default_fact_t;

/* Result of asking the server whether an ALTER COLUMN TYPE rewrites. */
typedef struct {
    size_t action;
    bool probed;
    bool rewrites;
    char *error;
} type_fact_t;

typedef struct {
    bool live;          /* false: planned on assumptions */
    int server_version; /* e.g. 150004; assumed 150000 offline */
    char *server_desc;
    table_fact_t *tables;
    size_t n_tables;
    default_fact_t *defaults;
    size_t n_defaults;
    type_fact_t *types;
    size_t n_types;
    int64_t *est_rows; /* per action: rows an UPDATE/DELETE would touch (EXPLAIN), -1 unknown */
    size_t n_est_rows;
    char *index_kind; /* per action: DROP INDEX's target relkind ('i', 'I'), '-' missing */
    size_t n_index_kind;
    int64_t *violations; /* per action: existing rows breaking a CHECK / UNIQUE, -1 unknown */
    size_t n_violations;
} facts_t;

const table_fact_t *facts_table(const facts_t *f, const char *schema, const char *name);
const column_fact_t *facts_column(const table_fact_t *t, const char *column);
const default_fact_t *facts_default(const facts_t *f, size_t action);
const type_fact_t *facts_type(const facts_t *f, size_t action);
void facts_free(facts_t *f);

#endif
