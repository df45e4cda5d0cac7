/* cmd_status.c: `convoy status` and `convoy audit`: read the durable state. */
#include "cli.h"
#include "convoy/executor.h"
#include "convoy/lease.h"
#include "convoy/state.h"
#include "convoy/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Prints rows as JSON objects keyed by column name (all values as strings or null). */
static json_t *
rows_json(PGresult *r)
{
    json_t *arr = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *o = json_object();
        for (int k = 0; k < PQnfields(r); k++)
            json_object_set_new(o, PQfname(r, k),
                                PQgetisnull(r, i, k) ? json_null()
                                                     : json_string(PQgetvalue(r, i, k)));
        json_array_append_new(arr, o);
    }
    return arr;
}

static const char status_sql[] =
    "SELECT m.name, m.status, m.current_step, m.n_steps, "
    "to_char(m.started_at, 'YYYY-MM-DD HH24:MI:SSOF') AS started_at, "
    "to_char(m.updated_at, 'YYYY-MM-DD HH24:MI:SSOF') AS updated_at, "
    "to_char(m.finished_at, 'YYYY-MM-DD HH24:MI:SSOF') AS finished_at, m.error, "
    "(SELECT s.summary FROM convoy.steps s WHERE s.migration = m.name AND "
    "s.status <> 'done' ORDER BY s.n LIMIT 1) AS next_step, "
    "(SELECT b.rows_done FROM convoy.backfill b WHERE b.migration = m.name "
    "ORDER BY b.updated_at DESC LIMIT 1) AS backfill_rows_done, "
    "(SELECT b.rows_total FROM convoy.backfill b WHERE b.migration = m.name "
    "ORDER BY b.updated_at DESC LIMIT 1) AS backfill_rows_total, "
    "(SELECT l.holder FROM convoy.lease l WHERE l.migration = m.name AND "
    "l.expires_at > now()) AS lease_holder "
    "FROM convoy.migrations m WHERE $1::text IS NULL OR m.name = $1 "
    "ORDER BY m.started_at";

static const char audit_sql[] =
    "SELECT id, to_char(at, 'YYYY-MM-DD HH24:MI:SS.MSOF') AS at, migration, step, "
    "actor, db_user, action, outcome, duration_ms, rows, locks, sql, detail "
    "FROM convoy.audit WHERE $1::text IS NULL OR migration = $1 ORDER BY id";

static void
print_status(PGresult *r)
{
    for (int i = 0; i < PQntuples(r); i++) {
        printf("%s  %s  step %s/%s  started %s  updated %s\n", PQgetvalue(r, i, 0),
               PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 4),
               PQgetvalue(r, i, 5));
        if (!PQgetisnull(r, i, 8))
            printf("    next: %s\n", PQgetvalue(r, i, 8));
        if (!PQgetisnull(r, i, 9))
            printf("    backfill: %s of %s rows\n", PQgetvalue(r, i, 9),
                   PQgetisnull(r, i, 10) ? "?" : PQgetvalue(r, i, 10));
        if (!PQgetisnull(r, i, 11))
            printf("    driven by: %s\n", PQgetvalue(r, i, 11));
        if (!PQgetisnull(r, i, 7))
            printf("    error: %s\n", PQgetvalue(r, i, 7));
    }
}

static void
print_audit(PGresult *r)
{
    for (int i = 0; i < PQntuples(r); i++) {
        printf("%s  %s  %s", PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 6));
        if (!PQgetisnull(r, i, 3))
            printf(" step %s", PQgetvalue(r, i, 3));
        printf("  %s  by %s (db user %s)", PQgetvalue(r, i, 7), PQgetvalue(r, i, 4),
               PQgetvalue(r, i, 5));
        if (!PQgetisnull(r, i, 8))
            printf("  %s ms", PQgetvalue(r, i, 8));
        if (!PQgetisnull(r, i, 9))
            printf("  %s rows", PQgetvalue(r, i, 9));
        putchar('\n');
        if (!PQgetisnull(r, i, 10) && PQgetvalue(r, i, 10)[0])
            printf("    locks: %s\n", PQgetvalue(r, i, 10));
        if (!PQgetisnull(r, i, 11))
            printf("    sql: %s\n", PQgetvalue(r, i, 11));
        if (!PQgetisnull(r, i, 12))
            printf("    detail: %s\n", PQgetvalue(r, i, 12));
    }
}

/*
 * Runs a state query whose $1 is the optional NAME filter and prints its rows, as JSON or
 * with print_rows. With name_must_exist, an unknown NAME is an error.
 */
static int
show_state(const cli_opts_t *o,
           const char *what,
           const char *sql,
           void (*print_rows)(PGresult *r),
           bool name_must_exist)
{
    pg_t *pg = cli_connect(o);
    const char *p[1] = {o->name};
    PGresult *r = NULL;
    int rc = EXIT_ERROR;

    if (pg == NULL)
        return EXIT_ERROR;
    if (!state_schema_exists(pg)) {
        if (o->json)
            cli_print_json(json_array());
        else
            printf("no convoy %s in this database yet\n", what);
        rc = name_must_exist && o->name ? EXIT_ERROR : EXIT_OK;
        goto done;
    }
    if (pg_run(pg, sql, 1, p, &r) != PG_OK) {
        fprintf(stderr, "convoy: reading the %s: %s\n", what, pg_errmsg(pg));
        goto done;
    }
    if (name_must_exist && o->name && PQntuples(r) == 0) {
        fprintf(stderr, "convoy: no migration named %s\n", o->name);
        goto done;
    }
    if (o->json)
        cli_print_json(rows_json(r));
    else
        print_rows(r);
    rc = EXIT_OK;
done:
    PQclear(r);
    pg_close(&pg);
    return rc;
}

int
cmd_status(const cli_opts_t *o)
{
    return show_state(o, "migrations", status_sql, print_status, true);
}

int
cmd_audit(const cli_opts_t *o)
{
    return show_state(o, "audit log", audit_sql, print_audit, false);
}
