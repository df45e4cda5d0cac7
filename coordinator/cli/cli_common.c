/* cli_common.c: helpers every command shares: load a file, connect, print JSON. */
#include "cli.h"
#include "convoy/util.h"

#include <stdio.h>
#include <stdlib.h>

bool
cli_load_migration(const char *path, migration_t *m)
{
    parse_error_t err;

    if (migration_load(path, m, &err))
        return true;
    if (err.line > 0)
        fprintf(stderr, "convoy: %s:%d:%d: %s\n", path, err.line, err.column, err.message);
    else
        fprintf(stderr, "convoy: %s: %s\n", path, err.message);
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
    }
    return pg;
}
