/* pgq.h: thin helpers over libpg_query's protobuf parse tree (deparse, walk, names). */
#ifndef CONVOY_PGQ_H
#define CONVOY_PGQ_H

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>
#include <stdbool.h>
#include <stddef.h>

/* protobuf-c gives "" rather than NULL for unset strings. */
#define PGQ_STR_SET(s) ((s) != NULL && (s)[0] != '\0')

/*
 * Limits that keep libpg_query's parser and protobuf-c's unpacker (both recursive) well
 * inside an 8 MB stack, with or without AddressSanitizer. libpg_query itself overflows at
 * about 24,000 nested operators, protobuf-c's unpack at about 5,000.
 */
#define PGQ_MAX_DEPTH  1000  /* parse-tree nesting, checked on the packed tree */
#define PGQ_MAX_TOKENS 10000 /* tokens along one nesting path, checked before parsing */

/* A scan or parse problem at a byte offset into the input. */
typedef struct {
    size_t offset;
    bool syntax; /* the message is PostgreSQL's own syntax error: the caller adds context */
    char message[400];
} pgq_error_t;

/*
 * Tokenizes sql with PostgreSQL's scanner, comments included. NULL and *err on a scanner
 * error (an unterminated comment or string is named with where it starts and how to close
 * it). The caller frees the result with pgq_scan_free.
 */
PgQuery__ScanResult *pgq_scan(const char *sql, pgq_error_t *err);
void pgq_scan_free(PgQuery__ScanResult *scan);
/* True for a -- or C-style comment token. */
bool pgq_token_is_comment(const PgQuery__ScanToken *t);

/*
 * Parses sql, whose tokens come from pgq_scan, into a tree that is safe to unpack and walk
 * recursively: input nested deeper than PGQ_MAX_DEPTH, or too large to parse safely, is
 * refused before it can exhaust the stack. NULL and *err on failure; the caller frees the
 * result with pgq_tree_free.
 */
PgQuery__ParseResult *
pgq_parse(const char *sql, const PgQuery__ScanResult *tokens, pgq_error_t *err);
void pgq_tree_free(PgQuery__ParseResult *tree);

/* Deparses one statement node. Returns NULL and sets *err (caller frees both). */
char *pgq_deparse_stmt(PgQuery__Node *stmt, char **err);
/* Deparses an expression by way of "SELECT <expr>". Caller frees. */
char *pgq_deparse_expr(PgQuery__Node *expr);
/* Deparses a type name by way of "NULL::<type>". Caller frees. */
char *pgq_deparse_type(PgQuery__TypeName *tn);
/* Deparses a constraint as it would follow "ALTER TABLE t ADD ", without its name. */
char *pgq_deparse_constraint(PgQuery__Constraint *c);

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
