/* pg.c: libpq wrapper; every failure keeps its SQLSTATE and message. */
#include "convoy/pg.h"

#include "convoy/util.h"

#include <stdlib.h>
#include <string.h>

/* A new session's pg_t, or NULL with *err (the connection is closed). */
static pg_t *
session_of(PGconn *conn, char **err)
{
    pg_t *pg;

    if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
        char *m = xstrdup(conn ? PQerrorMessage(conn) : "out of memory");
        size_t n = strlen(m);
        while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
            m[--n] = '\0';
        *err = m;
        PQfinish(conn);
        return NULL;
    }
    pg = xcalloc(1, sizeof(*pg));
    pg->conn = conn;
    pg->cancel = PQgetCancel(conn);
    /* Quiet NOTICEs (e.g. "relation already exists, skipping"). When the client dies in
     * the middle of a long statement (kill -9), the server notices within a second and
     * ends the session, so its locks and the lease go with it. */
    PQclear(PQexec(conn, "SET client_min_messages = warning; "
                         "SET client_connection_check_interval = '1s'"));
    return pg;
}

/* expand_dbname=1: dbname may be a full conninfo or URL; the key after it wins over it. */
static pg_t *
connect_named(const char *conninfo, const char *key, const char *name, char **err)
{
    const char *keys[] = {"dbname", key, NULL};
    const char *vals[] = {conninfo && *conninfo ? conninfo : NULL, name, NULL};

    return session_of(PQconnectdbParams(keys, vals, 1), err);
}

pg_t *
pg_connect(const char *conninfo, char **err)
{
    return connect_named(conninfo, "application_name", "convoy", err);
}

pg_t *
pg_connect_as(const char *conninfo, const char *fallback_name, char **err)
{
    return connect_named(conninfo, "fallback_application_name", fallback_name, err);
}

pg_t *
pg_connect_like(const pg_t *pg, char **err)
{
    PQconninfoOption *opts = PQconninfo(pg->conn), *o;
    size_t n = 0;
    const char **keys, **vals;
    PGconn *conn;

    if (opts == NULL) {
        *err = xstrdup("out of memory");
        return NULL;
    }
    for (o = opts; o->keyword; o++)
        n++;
    keys = xcalloc(n + 1, sizeof(char *));
    vals = xcalloc(n + 1, sizeof(char *));
    n = 0;
    for (o = opts; o->keyword; o++)
        if (o->val && *o->val) {
            keys[n] = o->keyword;
            vals[n++] = o->val;
        }
    conn = PQconnectdbParams(keys, vals, 0);
    free(keys);
    free(vals);
    PQconninfoFree(opts);
    return session_of(conn, err);
}

void
pg_close(pg_t **pgp)
{
    pg_t *pg = pgp ? *pgp : NULL;

    if (pg == NULL)
        return;
    if (pg->cancel)
        PQfreeCancel(pg->cancel);
    PQfinish(pg->conn);
    free(pg->errmsg);
    free(pg->errdetail);
    free(pg);
    *pgp = NULL;
}

pg_status_t
pg_classify(const char *sqlstate)
{
    if (sqlstate == NULL || sqlstate[0] == '\0')
        return PG_CONN_LOST;
    if (strcmp(sqlstate, "00000") == 0)
        return PG_OK;
    if (strcmp(sqlstate, "55P03") == 0)
        return PG_LOCK_TIMEOUT;
    if (strcmp(sqlstate, "57014") == 0)
        return PG_CANCELED;
    if (strcmp(sqlstate, "CV001") == 0)
        return PG_FENCED;
    if (strncmp(sqlstate, "08", 2) == 0 || strcmp(sqlstate, "57P01") == 0)
        return PG_CONN_LOST;
    return PG_ERROR;
}

static pg_status_t
record_result(pg_t *pg, PGresult *r)
{
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    const char *state, *msg, *detail;

    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
        snprintf(pg->sqlstate, sizeof(pg->sqlstate), "00000");
        return PG_OK;
    }
    state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    detail = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL) : NULL;
    snprintf(pg->sqlstate, sizeof(pg->sqlstate), "%s", state ? state : "");
    free(pg->errmsg);
    free(pg->errdetail);
    if (msg) {
        pg->errmsg = xstrdup(msg);
    } else {
        char *m = xstrdup(PQerrorMessage(pg->conn));
        size_t n = strlen(m);
        while (n > 0 && m[n - 1] == '\n')
            m[--n] = '\0';
        pg->errmsg = m;
    }
    pg->errdetail = detail ? xstrdup(detail) : NULL;
    if (PQstatus(pg->conn) != CONNECTION_OK)
        return PG_CONN_LOST;
    return pg_classify(pg->sqlstate);
}

pg_status_t
pg_run(pg_t *pg, const char *sql, int nparams, const char *const *params, PGresult **res)
{
    PGresult *r = PQexecParams(pg->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    pg_status_t st = record_result(pg, r);

    if (res && st == PG_OK)
        *res = r;
    else
        PQclear(r);
    return st;
}

pg_status_t
pg_run_rows(pg_t *pg,
            const char *sql,
            int nparams,
            const char *const *params,
            bool binary,
            void (*on_row)(const PGresult *row, void *arg),
            void *arg)
{
    PGresult *r;
    pg_status_t st = PG_OK;
    bool ended = false;

    if (!PQsendQueryParams(pg->conn, sql, nparams, NULL, params, NULL, NULL, binary ? 1 : 0))
        return record_result(pg, NULL);
    PQsetSingleRowMode(pg->conn);
    while ((r = PQgetResult(pg->conn)) != NULL) {
        if (PQresultStatus(r) == PGRES_SINGLE_TUPLE)
            on_row(r, arg);
        else if (!ended) { /* the end of the rows, or the error that ended them */
            st = record_result(pg, r);
            ended = true;
        }
        PQclear(r);
    }
    return ended ? st : record_result(pg, NULL);
}

pg_status_t
pg_prepare(pg_t *pg, const char *name, const char *sql, int nparams)
{
    PGresult *r = PQprepare(pg->conn, name, sql, nparams, NULL);
    pg_status_t st = record_result(pg, r);
    PQclear(r);
    return st;
}

pg_status_t
pg_run_prepared(pg_t *pg, const char *name, int nparams, const char *const *params, PGresult **res)
{
    PGresult *r = PQexecPrepared(pg->conn, name, nparams, params, NULL, NULL, 0);
    pg_status_t st = record_result(pg, r);

    if (res && st == PG_OK)
        *res = r;
    else
        PQclear(r);
    return st;
}

pg_status_t
pg_exec(pg_t *pg, const char *sql)
{
    PGresult *r = PQexec(pg->conn, sql);
    pg_status_t st = record_result(pg, r);
    PQclear(r);
    return st;
}

char *
pg_value(pg_t *pg, const char *sql, int nparams, const char *const *params)
{
    PGresult *r = NULL;
    char *out = NULL;

    if (pg_run(pg, sql, nparams, params, &r) != PG_OK)
        return NULL;
    if (PQntuples(r) > 0 && PQnfields(r) > 0 && !PQgetisnull(r, 0, 0))
        out = xstrdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return out;
}

bool
pg_send(pg_t *pg, const char *name, const char *sql, int nparams, const char *const *params)
{
    return name ? PQsendQueryPrepared(pg->conn, name, nparams, params, NULL, NULL, 0) == 1
                : PQsendQueryParams(pg->conn, sql, nparams, NULL, params, NULL, NULL, 0) == 1;
}

bool
pg_busy(pg_t *pg)
{
    if (!PQconsumeInput(pg->conn))
        return false; /* the connection failed: pg_collect says so */
    return PQisBusy(pg->conn) == 1;
}

pg_status_t
pg_collect(pg_t *pg, PGresult **res)
{
    PGresult *r, *first = NULL;
    pg_status_t st;

    while ((r = PQgetResult(pg->conn)) != NULL) {
        if (first == NULL)
            first = r;
        else
            PQclear(r);
    }
    st = record_result(pg, first);
    if (res && st == PG_OK)
        *res = first;
    else
        PQclear(first);
    return st;
}

int
pg_socket(const pg_t *pg)
{
    return PQsocket(pg->conn);
}

const char *
pg_errmsg(const pg_t *pg)
{
    return pg->errmsg ? pg->errmsg : "unknown error";
}

const char *
pg_sqlstate(const pg_t *pg)
{
    return pg->sqlstate;
}

int
pg_backend_pid(const pg_t *pg)
{
    return PQbackendPID(pg->conn);
}
