/* cli.h: subcommands of the convoy binary, their shared options and exit codes. */
#ifndef CONVOY_CLI_H
#define CONVOY_CLI_H

#include "convoy/exit.h"

#include <stdbool.h>

typedef struct {
    const char *db; /* conninfo; NULL: PG* environment */
    bool json;
    bool quiet;
    bool offline; /* plan: never connect */
    const char *file;
    const char *name;
} cli_opts_t;

int cmd_plan(const cli_opts_t *o);
int cmd_apply(const cli_opts_t *o);
int cmd_status(const cli_opts_t *o);
int cmd_audit(const cli_opts_t *o);
int cmd_abort(const cli_opts_t *o);
int cmd_fsm(const cli_opts_t *o);

/* Loads and parses the migration; prints file:line:col errors. */
#include "convoy/migration.h"
/* On failure prints "convoy: FILE:LINE:COL: message"; *error (optional) gets that text. */
bool cli_load_migration(const char *path, migration_t *m, char **error);
/* SIGINT/SIGTERM stop the engine (cancel the statement in flight); *out is the control. */
#include "convoy/runctl.h"
void cli_install_stop_handler(run_ctl_t **out);
/* "user@host pid N": who drives a migration, for leases and the audit log. Caller frees. */
char *cli_actor(void);
/* Connects with o->db (or the PG* environment); prints the error and returns NULL. */
#include "convoy/pg.h"
pg_t *cli_connect(const cli_opts_t *o);
/*
 * Checks that o->name is a migration recorded in the database: EXIT_OK, or EXIT_NOT_FOUND
 * (no such migration, or no convoy schema at all) or EXIT_ERROR with the message printed.
 * Every command taking a NAME goes through it, so an unknown NAME means one code everywhere.
 */
int cli_require_migration(const cli_opts_t *o);
/* Prints a JSON value on stdout and frees it. */
#include <jansson.h>
void cli_print_json(json_t *v);

#endif
