/* pg.h: the one libpq module: connect, run, classify errors by SQLSTATE. */
#ifndef CONVOY_PG_H
#define CONVOY_PG_H

#include <libpq-fe.h>
#include <stdbool.h>

typedef enum {
    PG_OK,
    PG_LOCK_TIMEOUT, /* 55P03 */
    PG_CANCELED,     /* 57014: statement_timeout or cancel */
    PG_CONN_LOST,    /* class 08, or no connection */
    PG_FENCED,       /* CV001: convoy.fence() found the lease token no longer current */
    PG_ERROR,        /* anything else: see pg_sqlstate/pg_errmsg */
} pg_status_t;

typedef struct {
    PGconn *conn;
    PGcancel *cancel; /* for PQcancel from a signal handler */
    char sqlstate[6];
    char *errmsg; /* last error, owned */
    char *errdetail;
} pg_t;

/* Connects with libpq conventions (conninfo or URL, PG* env defaults), as application_name
 * convoy (rehearse tells convoy's own sessions by it). NULL + *err on failure. */
pg_t *pg_connect(const char *conninfo, char **err);
/* The same, as application_name fallback_name unless conninfo or PGAPPNAME names one. */
pg_t *pg_connect_as(const char *conninfo, const char *fallback_name, char **err);
void pg_close(pg_t **pg);
/* A second session with pg's connection parameters (same server, database, role, options). */
pg_t *pg_connect_like(const pg_t *pg, char **err);

/* Runs SQL with text parameters. Returns the status; *res (if given) gets the result. */
pg_status_t
pg_run(pg_t *pg, const char *sql, int nparams, const char *const *params, PGresult **res);
/*
 * Runs sql in single-row mode: on_row gets each row as soon as it arrives (a
 * PGRES_SINGLE_TUPLE result with one row, cleared after the call), so the caller can work on
 * the first rows while the server still produces the others. Returns the status of the
 * whole statement: an error can follow rows already passed on. binary: the rows in the
 * binary format (each type's send function), parameters still as text.
 */
pg_status_t pg_run_rows(pg_t *pg,
                        const char *sql,
                        int nparams,
                        const char *const *params,
                        bool binary,
                        void (*on_row)(const PGresult *row, void *arg),
                        void *arg);
/* Prepares a named statement (the extended protocol: one round trip per execution). */
pg_status_t pg_prepare(pg_t *pg, const char *name, const char *sql, int nparams);
pg_status_t
pg_run_prepared(pg_t *pg, const char *name, int nparams, const char *const *params, PGresult **res);
/* Runs one or more statements with no parameters and no result rows. */
pg_status_t pg_exec(pg_t *pg, const char *sql);
/* First cell of the first row as a new string, or NULL (NULL value, no rows or error). */
char *pg_value(pg_t *pg, const char *sql, int nparams, const char *const *params);

/*
 * Without waiting: pg_send sends one statement (the prepared `name` when sql is NULL);
 * pg_busy reads what has arrived and is true while its result has not; pg_collect returns
 * it (waiting if need be) like pg_run. pg_socket is the descriptor to poll for input.
 * False from pg_send: nothing was sent (pg_collect then reports why).
 */
bool pg_send(pg_t *pg, const char *name, const char *sql, int nparams, const char *const *params);
bool pg_busy(pg_t *pg);
pg_status_t pg_collect(pg_t *pg, PGresult **res);
int pg_socket(const pg_t *pg);

const char *pg_errmsg(const pg_t *pg);
const char *pg_sqlstate(const pg_t *pg);
pg_status_t pg_classify(const char *sqlstate);
/* The server's backend pid for this session. */
int pg_backend_pid(const pg_t *pg);

#endif
