/* pgq.h: thin helpers over libpg_query's protobuf parse tree (deparse, walk, names). */
#ifndef CONVOY_PGQ_H
#define CONVOY_PGQ_H

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>
#include <stdbool.h>

/* protobuf-c gives "" rather than NULL for unset strings. */
#define PGQ_STR_SET(s) ((s) != NULL && (s)[0] != '\0')

/* Deparses one statement node. Returns NULL and sets *err (caller frees both). */
char *pgq_deparse_stmt(PgQuery__Node *stmt, char **err);
/* Deparses an expression by way of "SELECT <expr>". Caller frees. */
char *pgq_deparse_expr(PgQuery__Node *expr);
/* Deparses a type name by way of "NULL::<type>". Caller frees. */
char *pgq_deparse_type(PgQuery__TypeName *tn);
/* Deparses a constraint as it would follow "ALTER TABLE t ADD ", without its name. */
char *pgq_deparse_constraint(PgQuery__Constraint *c);
/* A quoted identifier exactly as PostgreSQL's deparser would write it. */
char *pgq_quote_ident(const char *ident);

/* The string value of a String node, or NULL. */
const char *pgq_node_str(const PgQuery__Node *n);
/* Last component of a dotted name list (e.g. a type or function name). */
const char *pgq_last_name(PgQuery__Node **names, size_t n);

/* Calls fn on every message under root (depth first); stops when fn returns false. */
typedef bool (*pgq_visit_fn)(const ProtobufCMessage *msg, void *arg);
void pgq_walk(const ProtobufCMessage *root, pgq_visit_fn fn, void *arg);

/* True when the expression references a column. */
bool pgq_expr_reads_columns(const PgQuery__Node *expr);
/* True when the expression calls any function (including CURRENT_TIMESTAMP and friends). */
bool pgq_expr_calls_function(const PgQuery__Node *expr);
/* True when the expression calls a function PostgreSQL marks volatile (known list). */
bool pgq_expr_calls_volatile(const PgQuery__Node *expr);

#endif
