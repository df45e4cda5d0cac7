/*
 * quote.h: the one identifier quoter. Every identifier convoy puts into SQL it builds
 * (tables, columns, constraints, indexes, helpers) goes through ident_sql/qname_sql;
 * values never do: they are passed as parameters (literal_sql only where SQL takes none).
 */
#ifndef CONVOY_QUOTE_H
#define CONVOY_QUOTE_H

typedef struct {
    char *schema; /* NULL when the user left it unqualified */
    char *name;
} qname_t;

/*
 * An identifier as PostgreSQL's own deparser writes it: bare when it may be (lower case,
 * not a keyword), double-quoted otherwise, embedded quotes doubled. Caller frees.
 */
char *ident_sql(const char *ident);
/* "schema.name" or "name", each part through ident_sql. Caller frees. */
char *qname_sql(const qname_t *q);
/*
 * A string literal, for the few places where SQL cannot take a parameter (COMMENT ON ... IS
 * in a DDL step): quotes doubled, E'' with doubled backslashes when it has any. Caller frees.
 */
char *literal_sql(const char *value);

#endif
