/* cli_common.c: helpers every command shares: load a file, connect, find a migration, JSON. */
#include "cli.h"
#include "convoy/log.h"
#include "convoy/util.h"

#include <stdio.h>
#include <stdlib.h>

bool
cli_load_migration(const char *path, migration_t *m, char **error)
{
    parse_error_t err;
    int64_t t0 = now_mono_ms();
    char *msg;

    if (error)
        *error = NULL;
    if (migration_load(path, m, &err)) {
        log_debug("parsed %s in %lld ms: migration %s, %zu actions, %zu backfills", path,
                  (long long)(now_mono_ms() - t0), m->name, m->n_actions, m->n_backfills);
        return true;
    }
    if (err.line > 0)
        msg = xasprintf("%s:%d:%d: %s", path, err.line, err.column, err.message);
    else
        msg = xasprintf("%s: %s", path, err.message);
    fprintf(stderr, "convoy: %s\n", msg);
    if (error)
        *error = msg;
    else
        free(msg);
    return false;
}

void
cli_print_json(json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s) {
        puts(s);
        free(s);
    }
    json_decref(v);
}

pg_t *
cli_connect(const cli_opts_t *o)
{
    char *err = NULL;
    pg_t *pg = pg_connect(o->db, &err);

    if (pg == NULL) {
        fprintf(stderr, "convoy: cannot connect to the database: %s\n", err);
        free(err);
        return NULL;
    }
    /* Never the conninfo itself: it may hold a password. */
    log_debug("connected to database %s as %s on %s port %s (server %d, backend pid %d)",
              PQdb(pg->conn), PQuser(pg->conn), PQhost(pg->conn), PQport(pg->conn),
              PQserverVersion(pg->conn), pg_backend_pid(pg));
    return pg;
}

int
cli_require_migration(const cli_opts_t *o)
{
    pg_t *pg = cli_connect(o);
    const char *p[1] = {o->name};
    PGresult *r = NULL;
    bool found = false;
    int rc = EXIT_ERROR;

    if (pg == NULL)
        return EXIT_ERROR;
    if (pg_run(pg, "SELECT to_regclass('convoy.migrations') IS NOT NULL", 0, NULL, &r) != PG_OK)
        goto query_failed;
    found = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    r = NULL;
    if (found) {
        if (pg_run(pg, "SELECT EXISTS (SELECT 1 FROM convoy.migrations WHERE name = $1)", 1, p,
                   &r) != PG_OK)
            goto query_failed;
        found = PQgetvalue(r, 0, 0)[0] == 't';
    }
    if (found) {
        rc = EXIT_OK;
    } else {
        fprintf(stderr,
                "convoy: no migration named %s in this database; `convoy status` lists the "
                "migrations it has\n",
                o->name);
        rc = EXIT_NOT_FOUND;
    }
    goto done;
query_failed:
    fprintf(stderr, "convoy: looking up migration %s: %s\n", o->name, pg_errmsg(pg));
done:
    PQclear(r);
    pg_close(&pg);
    return rc;
}
