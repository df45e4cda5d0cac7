/* cli.h: subcommands of the convoy binary, their shared options and exit codes. */
#ifndef CONVOY_CLI_H
#define CONVOY_CLI_H

#include "convoy/exit.h"

/* convoy lint: a finding at or above --fail-on (the other codes are convoy/exit.h's). */
#define EXIT_LINT_FINDINGS      9
/* convoy explain-review: a statement's plan regresses. */
#define EXIT_EXPLAIN_REGRESSION 10

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *db; /* conninfo; NULL: PG* environment */
    bool json;
    bool quiet;
    bool offline; /* plan: never connect */
    const char *file;
    const char *name;
    const char *cluster; /* --cluster, or $CONVOY_CLUSTER when no --db */
    bool detach;
    bool watch;
    const char *config; /* coordinator --config */
    const char *bind;
    bool insecure;
    const char *out; /* keygen --out */
    const char *const *settings;
    int n_settings;
    const char *gate;   /* gate --gate: expand (NULL) or contract */
    int64_t timeout_ms; /* gate wait --timeout; 0: forever */
    const char *action; /* gate wait|show */
    const char *role;   /* init --role */
    const char *corpus; /* compat --corpus */
    const char *app_version;
    const char *const *files; /* lint: FILE... */
    int n_files;
    const char *format;   /* lint --format: text, json, sarif, github (NULL: text) */
    const char *fail_on;  /* lint --fail-on: error, warning, info, never (NULL: error) */
    const char *schema;   /* lint --schema: the current schema as SQL, for offline runs */
    const char *staging;  /* rehearse --staging */
    double scale;         /* rehearse --scale (0: default 1) */
    const char *traffic;  /* rehearse --traffic */
    const char *compare;  /* rehearse --baseline psql */
    int top;              /* explain-review --top (0: default) */
    double threshold_pct; /* explain-review --threshold, when has_threshold */
    bool has_threshold;
    char *cluster_db;   /* owned: the primary's conninfo from the cluster config */
    char *cluster_name; /* owned */
} cli_opts_t;

int cmd_plan(const cli_opts_t *o);
int cmd_lint(const cli_opts_t *o);
/* The [lint] section of the project file (--config, or ./convoy.ini when it exists) over the
 * defaults; prints each error as FILE:LINE and returns false. Free with lint_config_free. */
#include "convoy/lint.h"
bool cli_lint_config(const cli_opts_t *o, lint_config_t *cfg);
int cmd_apply(const cli_opts_t *o);
int cmd_status(const cli_opts_t *o);
int cmd_audit(const cli_opts_t *o);
int cmd_abort(const cli_opts_t *o);
int cmd_fsm(const cli_opts_t *o);
int cmd_pause(const cli_opts_t *o);
int cmd_resume(const cli_opts_t *o);
int cmd_set(const cli_opts_t *o);
int cmd_coordinator(const cli_opts_t *o);
int cmd_keygen(const cli_opts_t *o);
int cmd_verify(const cli_opts_t *o);
int cmd_init(const cli_opts_t *o);
int cmd_compat(const cli_opts_t *o);
int cmd_explain(const cli_opts_t *o);
int cmd_rehearse(const cli_opts_t *o);
/* The end-of-run report: $CONVOY_REPORT_DIR (default ./convoy-reports)/NAME.report.md, .json. */
void cli_write_report(const cli_opts_t *o, const char *name);
int cmd_gate(const cli_opts_t *o);
/*
 * Runs convoy verify for NAME and prints the checks; EXIT_OK when they all passed. With
 * result, nothing goes to stdout: *result gets {"passed", "checks"} (apply --json adds it).
 */
int cli_verify(
    const cli_opts_t *o, const char *name, const char *file, bool summary_only, json_t **result);
/*
 * Follows a submitted migration until it ends (convoy apply --cluster). With final, no
 * progress is drawn and *final gets {"status", "error"} of the end (apply --json adds it).
 */
int cli_follow(const cli_opts_t *o, const char *name, json_t **final);
/*
 * With --cluster FILE (or $CONVOY_CLUSTER when no --db is given), loads the cluster config
 * and points o->db at its primary. Prints every config error; EXIT_OK or EXIT_ERROR.
 */
int cli_resolve_cluster(cli_opts_t *o);

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
