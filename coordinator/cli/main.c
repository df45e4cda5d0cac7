/*
 * main.c: `convoy` command-line entry point. The commands, their options and exit codes are
 * one table; parsing, per-command --help, refusals of options that mean nothing for a
 * command, and dispatch are all driven by it. A new command is one entry in `commands`.
 */
#include "cli.h"
#include "convoy/log.h"
#include "convoy/util.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CONVOY_VERSION
#error "CONVOY_VERSION must be defined by the build (the CMake project version)"
#endif

/* Options; each command lists the ones that mean something for it. */
enum {
    OPT_DB = 1u << 0,
    OPT_JSON = 1u << 1,
    OPT_QUIET = 1u << 2,
    OPT_OFFLINE = 1u << 3,
    OPT_VERBOSE = 1u << 4,
    OPT_HELP = 1u << 5,
    OPT_CLUSTER = 1u << 6,
    OPT_DETACH = 1u << 7,
    OPT_CONFIG = 1u << 8,
    OPT_BIND = 1u << 9,
    OPT_INSECURE = 1u << 10,
    OPT_OUT = 1u << 11,
    OPT_GATE = 1u << 12,
    OPT_TIMEOUT = 1u << 13,
    OPT_ROLE = 1u << 14,
    OPT_CORPUS = 1u << 15,
    OPT_APP_VERSION = 1u << 16,
    OPT_FORMAT = 1u << 17,
    OPT_FAIL_ON = 1u << 18,
    OPT_SCHEMA = 1u << 19,
    OPT_WATCH = 1u << 20,
    OPT_STAGING = 1u << 21,
    OPT_SCALE = 1u << 22,
    OPT_TRAFFIC = 1u << 23,
    OPT_BASELINE = 1u << 24,
    OPT_TOP = 1u << 25,
    OPT_THRESHOLD = 1u << 26,
};
/* What every command accepts. */
#define OPT_ALWAYS (OPT_VERBOSE | OPT_HELP)

typedef struct {
    unsigned bit;
    const char *long_name;
    char short_name;
    const char *arg_name; /* NULL: takes no value */
    const char *help;
} cli_option_t;

static const cli_option_t options[] = {
    {OPT_DB, "db", 'd', "CONNINFO",
     "libpq conninfo or URL (default: the PG* environment variables)"},
    {OPT_JSON, "json", 'j', NULL, "machine-readable JSON on stdout"},
    {OPT_QUIET, "quiet", 'q', NULL, "no progress output on stderr"},
    {OPT_OFFLINE, "offline", 'o', NULL, "never connect, even when PG* variables are set"},
    {OPT_VERBOSE, "verbose", 'v', NULL, "debug logging on stderr"},
    {OPT_HELP, "help", 'h', NULL, "show this help, then exit"},
    {OPT_CLUSTER, "cluster", 'c', "FILE",
     "the cluster config (default: $CONVOY_CLUSTER): go through its coordinator"},
    {OPT_DETACH, "detach", 'D', NULL, "return once submitted instead of following it"},
    {OPT_CONFIG, "config", 'C', "FILE",
     "coordinator: the cluster config it serves; lint, plan: the project file (default: "
     "./convoy.ini)"},
    {OPT_BIND, "bind", 'b', "ENDPOINT",
     "bind here instead of the config's bind (a second coordinator)"},
    {OPT_INSECURE, "insecure", 'I', NULL, "plain text, no CURVE (said on every status line)"},
    {OPT_OUT, "out", 'O', "PREFIX",
     "keygen: write PREFIX.key (mode 0600) and PREFIX.pub; rehearse: PREFIX.md, .html, .json"},
    {OPT_GATE, "gate", 'g', "GATE", "expand (default) or contract"},
    {OPT_TIMEOUT, "timeout", 't', "DURATION", "give up after this long (default: wait forever)"},
    {OPT_ROLE, "role", 'r', "ROLE", "the database role convoy will run as"},
    {OPT_CORPUS, "corpus", 'Q', "FILE", "the app version's SQL statements, separated by ';'"},
    {OPT_APP_VERSION, "app-version", 'A', "VERSION", "the app version the corpus belongs to"},
    {OPT_FORMAT, "format", 'f', "FORMAT", "text (default), json, sarif (SARIF 2.1.0) or github"},
    {OPT_FAIL_ON, "fail-on", 'F', "LEVEL",
     "exit 9 on a finding at this level or above: error (default), warning, info or never"},
    {OPT_SCHEMA, "schema", 'S', "FILE",
     "offline: the current schema as SQL (pg_dump --schema-only) for existing columns"},
    {OPT_WATCH, "watch", 'w', NULL,
     "refresh a compact view every second until Ctrl-C (with --json: one line per refresh)"},
    {OPT_STAGING, "staging", 's', "CONNINFO",
     "rehearse: the database to rehearse on; its copies of the tables are replaced"},
    {OPT_SCALE, "scale", 'e', "F", "rehearse: STAGING rows = PROD's x F (default 1, e.g. 0.1)"},
    {OPT_TRAFFIC, "traffic", 'T', "FILE",
     "rehearse: a pgbench script as the traffic (default: key reads and single-row updates)"},
    {OPT_BASELINE, "baseline", 'B', "psql",
     "rehearse: also run the file as written with psql, on a fresh copy, for comparison"},
    {OPT_TOP, "top", 'N', "N",
     "explain-review: EXPLAIN the N heaviest statements that touch the tables (default 10)"},
    {OPT_THRESHOLD, "threshold", 'P', "PCT",
     "explain-review: an estimated cost rise above PCT percent is a regression (default 20)"},
};
#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

/* Every exit code, with the meaning docs/convoy.1.md documents for it. */
static const struct {
    int code;
    const char *meaning;
} exit_codes[] = {
    {EXIT_OK, "success, or nothing to do"},
    {EXIT_ERROR, "error: bad input, unknown table or column, SQL or connection error"},
    {EXIT_USAGE, "usage: unknown command or option, or a missing or extra argument"},
    {EXIT_REFUSED, "refused: a statement cannot be made safe (reason and alternative printed)"},
    {EXIT_BUSY, "another convoy process holds the migration's lease (its identity printed)"},
    {EXIT_LOCKED, "a lock could not be taken within the retry budget (blockers printed)"},
    {EXIT_PRECONDITION, "data must be fixed first: FK orphans, duplicates, check violations"},
    {EXIT_ABORTED, "aborted or interrupted at a safe point; apply again resumes"},
    {EXIT_NOT_FOUND, "no migration of that NAME in the database"},
    {EXIT_LINT_FINDINGS, "lint: a finding at or above --fail-on (suppressed ones do not count)"},
    {EXIT_EXPLAIN_REGRESSION,
     "explain-review: a statement's plan regresses (or uses a dropped index)"},
};

typedef enum {
    ARG_FILE,          /* exactly one migration FILE */
    ARG_NAME,          /* exactly one migration NAME */
    ARG_OPTIONAL_NAME, /* at most one NAME */
    ARG_NONE,          /* no argument */
    ARG_NAME_SETTINGS, /* NAME and one or more key=value */
    ARG_ACTION_NAME,   /* an action word and NAME: gate wait NAME */
    ARG_FILES,         /* one or more FILEs */
} arg_kind_t;

#define CODES_END (-1)

typedef struct {
    const char *name;
    arg_kind_t args;
    unsigned options; /* OPT_* bits besides OPT_ALWAYS */
    int (*run)(const cli_opts_t *o);
    const char *summary;     /* one line in `convoy --help` */
    const char *description; /* the paragraph of `convoy COMMAND --help` */
    int codes[10];           /* the exit codes it returns, ending with CODES_END */
} cli_command_t;

static const cli_command_t commands[] = {
    {"rehearse",
     ARG_FILE,
     OPT_DB | OPT_STAGING | OPT_SCALE | OPT_TRAFFIC | OPT_BASELINE | OPT_OUT | OPT_JSON,
     cmd_rehearse,
     "rehearse a migration on STAGING with PROD's data shape, measured, with a risk score",
     "Copies the schema of the tables FILE touches (and the tables they reference) from PROD\n"
     "(--db, only read, 5 s statement_timeout) to STAGING (--staging), generates rows from\n"
     "PROD's statistics (reltuples x --scale, pg_stats), runs synthetic traffic (pgbench), then\n"
     "runs FILE through convoy's engine, measuring step durations (and at PROD's size), locks\n"
     "held and waits behind them, latency before/during/after, index and backfill speed, WAL\n"
     "and replica lag. --baseline psql runs the file as written first, on its own copy.\n"
     "Writes a Markdown, HTML and JSON report (--out PREFIX, default\n"
     "$CONVOY_REPORT_DIR/NAME.rehearsal) and prints the risk and the `-- convoy:risk N` line\n"
     "to put in FILE. docs/rehearse.md.",
     {EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_ABORTED, CODES_END}},
    {"plan",
     ARG_FILE,
     OPT_DB | OPT_JSON | OPT_OFFLINE | OPT_CONFIG,
     cmd_plan,
     "show the lock-safe steps convoy would run for FILE, and why",
     "Parses FILE and prints the ordered steps convoy would run, with the lock each takes,\n"
     "whether it rewrites or scans the table, and its expected duration. It reads the live\n"
     "catalog when --db is given or PGHOST, PGDATABASE or PGSERVICE is set; otherwise (or\n"
     "with --offline) it plans on stated assumptions. It never changes the database.",
     {EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_REFUSED, CODES_END}},
    {"lint",
     ARG_FILES,
     OPT_DB | OPT_FORMAT | OPT_FAIL_ON | OPT_CONFIG | OPT_SCHEMA,
     cmd_lint,
     "review migration files: durable types, defaults, names, lock safety",
     "Checks each FILE against convoy's lint rules (docs/lint.md): explicit, durable types;\n"
     "explicit defaults and constraints; clear names; and every lock hazard, answered with\n"
     "what convoy will run instead or why it refuses. Each finding names FILE:LINE:COLUMN,\n"
     "its rule, the reason and the fix. With --db the rules read the live catalog; without\n"
     "it (the PG* variables are not used) they say what they assumed, and --schema FILE gives\n"
     "them the existing tables. [lint] in convoy.ini (--config) turns rules off or changes\n"
     "their severity and extends the word lists; `-- convoy:allow RULE REASON` on the line\n"
     "before a statement suppresses that rule there, keeping the reason in the output.",
     {EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_LINT_FINDINGS, CODES_END}},
    {"apply",
     ARG_FILE,
     OPT_DB | OPT_JSON | OPT_QUIET | OPT_CLUSTER | OPT_DETACH,
     cmd_apply,
     "run them: short lock timeouts, batched resumable backfill",
     "Plans FILE (or, for a migration already started, loads the plan stored at its start),\n"
     "takes the migration's lease and runs every step not yet done. Progress goes to\n"
     "stderr. Interrupted (SIGINT, SIGTERM) it stops at a safe point; applying again resumes.\n"
     "With --cluster (or $CONVOY_CLUSTER and no --db) it records FILE as submitted on the\n"
     "primary for the cluster's coordinator and follows it (rows/s, ETA, worst replica lag,\n"
     "holds) until it ends; --detach returns once it is submitted. With --json it prints one\n"
     "object when it ends: its \"coordinator\" member holds the final status and error.",
     {EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_REFUSED, EXIT_BUSY, EXIT_LOCKED, EXIT_PRECONDITION,
      EXIT_ABORTED, CODES_END}},
    {"status",
     ARG_OPTIONAL_NAME,
     OPT_DB | OPT_JSON | OPT_CLUSTER | OPT_WATCH,
     cmd_status,
     "migrations and their progress",
     "Lists the migrations recorded in the database (or only NAME): status, step, next\n"
     "step, backfill progress, the current lease holder and the last error. --watch\n"
     "refreshes a compact view every second: progress with rows/s and ETA, the hold\n"
     "reason, gates, each node's state and lag.",
     {EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NOT_FOUND, CODES_END}},
    {"audit",
     ARG_OPTIONAL_NAME,
     OPT_DB | OPT_JSON | OPT_CLUSTER,
     cmd_audit,
     "the append-only audit log",
     "Prints the append-only audit log (of NAME only, when given): time, migration, step,\n"
     "actor, database user, action, outcome, duration, rows, locks, SQL and detail.",
     {EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NOT_FOUND, CODES_END}},
    {"abort",
     ARG_NAME,
     OPT_DB | OPT_JSON | OPT_QUIET | OPT_CLUSTER,
     cmd_abort,
     "stop a migration at the next safe point",
     "Asks the process driving NAME to stop at the next safe point and waits up to 60 s;\n"
     "when no process drives it, abort cleans up itself: it removes what convoy installed\n"
     "that could change or reject the application's writes (sync triggers, helper and\n"
     "unvalidated constraints, INVALID indexes of its own), through lock_timeout and\n"
     "retries. Completed columns, defaults, constraints and indexes are kept. Exits 4 when\n"
     "the driver has not stopped within the wait.",
     {EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_BUSY, EXIT_LOCKED, EXIT_ABORTED, EXIT_NOT_FOUND,
      CODES_END}},
    {"pause",
     ARG_NAME,
     OPT_DB | OPT_CLUSTER | OPT_JSON,
     cmd_pause,
     "hold a running migration at its next safe point",
     "Records a pause request (an audited lifecycle transition, with your OS user). The\n"
     "driver holds before its next batch or step, keeping everything it did, until\n"
     "`convoy resume NAME`. The coordinator hears it at once (LISTEN/NOTIFY).",
     {EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NOT_FOUND, CODES_END}},
    {"resume",
     ARG_NAME,
     OPT_DB | OPT_CLUSTER | OPT_JSON,
     cmd_resume,
     "let a paused migration go on",
     "Records a resume request for a paused migration (paused by `convoy pause`, or by a\n"
     "bounded hold that ran out: replica readers, replay): the driver goes on at once.",
     {EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NOT_FOUND, CODES_END}},
    {"set",
     ARG_NAME_SETTINGS,
     OPT_DB | OPT_CLUSTER | OPT_JSON,
     cmd_set,
     "change max-lag or batch-target of a running migration",
     "Changes live settings of NAME without a restart: max-lag=DURATION (the replica lag\n"
     "above which backfill batches hold) and batch-target=DURATION. The coordinator\n"
     "applies them within a heartbeat interval; each change is audited with your OS user.",
     {EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NOT_FOUND, CODES_END}},
    {"verify",
     ARG_NAME,
     OPT_DB | OPT_CLUSTER | OPT_JSON,
     cmd_verify,
     "check what a finished migration left, on the primary and every replica",
     "Checks, on the primary: each added column's type and nullability; no convoy helper\n"
     "left; every constraint validated; every index valid and ready; for an immutable\n"
     "backfill expression, a random sample of 1000 rows recomputed. On each replica of the\n"
     "cluster (--cluster): a count and an order-independent hash of each backfilled column\n"
     "match the primary's once it has replayed. Recorded and audited; the expand gate opens\n"
     "only after a verification passed. apply runs it at the end by itself.",
     {EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NOT_FOUND, CODES_END}},
    {"gate",
     ARG_ACTION_NAME,
     OPT_DB | OPT_CLUSTER | OPT_JSON | OPT_GATE | OPT_TIMEOUT,
     cmd_gate,
     "wait for (or show) a migration's deploy gate",
     "`gate wait NAME` blocks until the gate (--gate expand, the default, or contract) is\n"
     "open: exit 0 when open, 1 when it failed, 2 when --timeout passed. `gate show NAME`\n"
     "prints its state and what holds it. expand opens when the migration is done, its cache\n"
     "invalidations are confirmed and its verification passed (see docs/gates.md).",
     {EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NOT_FOUND, CODES_END}},
    {"coordinator",
     ARG_NONE,
     OPT_CONFIG | OPT_BIND | OPT_INSECURE,
     cmd_coordinator,
     "run the coordinator service for a cluster",
     "Serves the cluster config given with --config: binds the ROUTER socket (CURVE on,\n"
     "only the listed agents' keys admitted), hears every agent, and drives the\n"
     "migrations submitted with `convoy apply --cluster` through the same engine as the\n"
     "one-shot apply, holding while a replica lags, an agent is silent, a replica reads\n"
     "the table an ACCESS EXCLUSIVE step needs, or a step has not been replayed. Two\n"
     "coordinators on one cluster: one drives, the other takes over when it dies.",
     {EXIT_OK, EXIT_ERROR, EXIT_USAGE, CODES_END}},
    {"compat",
     ARG_NAME,
     OPT_DB | OPT_CLUSTER | OPT_JSON | OPT_CORPUS | OPT_APP_VERSION,
     cmd_compat,
     "check an app version's queries against the schema as it stands",
     "Prepares every statement of --corpus FILE (never runs it) against the current schema in\n"
     "a rolled-back transaction, and checks it with the real parser: an INSERT that omits a\n"
     "NOT NULL column without a default fails; an INSERT without a column list and SELECT *\n"
     "warn. The result is recorded for NAME and --app-version: a failure fails NAME's\n"
     "expand gate, naming the statement. Exit 0 when nothing fails.",
     {EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NOT_FOUND, CODES_END}},
    {"explain-review",
     ARG_FILE,
     OPT_DB | OPT_JSON | OPT_TOP | OPT_THRESHOLD,
     cmd_explain,
     "EXPLAIN the top pg_stat_statements queries before and after FILE, read-only",
     "Plans FILE against the live catalog, takes the --top statements of pg_stat_statements\n"
     "(by total time) that touch the tables it changes, and EXPLAINs each as a generic plan\n"
     "now and after the migration: its new indexes as HypoPG hypothetical indexes and its\n"
     "dropped ones hidden, in this session only. It flags plan changes (node types, join\n"
     "order, index choice) and estimated cost rises over --threshold, and says which\n"
     "statements each new index serves. Without HypoPG it shows the current plans and flags\n"
     "statements using an index FILE drops. It writes nothing: the session is read-only with\n"
     "a 5 s statement_timeout. docs/explain-review.md.",
     {EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_EXPLAIN_REGRESSION, CODES_END}},
    {"init",
     ARG_NONE,
     OPT_DB | OPT_CLUSTER | OPT_ROLE,
     cmd_init,
     "set up the convoy schema with an append-only audit log (run once, as an admin)",
     "Run once as an administrator (a superuser, or a role that may create roles): creates\n"
     "or upgrades the convoy schema owned by the NOLOGIN role convoy_owner, and grants --role\n"
     "ROLE (the role convoy runs as) what it needs: it can insert into convoy.audit and read\n"
     "it, but never update, delete or truncate it, nor drop or disable what enforces that.",
     {EXIT_OK, EXIT_ERROR, EXIT_USAGE, CODES_END}},
    {"keygen",
     ARG_NONE,
     OPT_OUT,
     cmd_keygen,
     "write a CURVE key pair for a coordinator or an agent",
     "Writes PREFIX.key (public and secret key, mode 0600) and PREFIX.pub (the public key\n"
     "to list in the cluster config or give to agents), and prints the public key.",
     {EXIT_OK, EXIT_ERROR, EXIT_USAGE, CODES_END}},
    {"fsm",
     ARG_NONE,
     OPT_JSON,
     cmd_fsm,
     "the migration lifecycle: every status and transition",
     "Prints the lifecycle table convoy enforces: each (status, event) edge, its target,\n"
     "whether the driver or an operator takes it, and what it means. Every transition is\n"
     "written to convoy.audit.",
     {EXIT_OK, EXIT_USAGE, CODES_END}},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char *
args_synopsis(arg_kind_t k)
{
    switch (k) {
    case ARG_FILE:
        return "FILE";
    case ARG_NAME:
        return "NAME";
    case ARG_OPTIONAL_NAME:
        return "[NAME]";
    case ARG_NONE:
        return "";
    case ARG_NAME_SETTINGS:
        return "NAME key=value...";
    case ARG_ACTION_NAME:
        return "wait|show NAME";
    case ARG_FILES:
        return "FILE...";
    }
    return "";
}

static const char *
exit_meaning(int code)
{
    for (size_t i = 0; i < sizeof(exit_codes) / sizeof(exit_codes[0]); i++)
        if (exit_codes[i].code == code)
            return exit_codes[i].meaning;
    return "?";
}

static const cli_option_t *
option_by_short(int c)
{
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (options[i].short_name == c)
            return &options[i];
    return NULL;
}

/* The option "--pre" abbreviates (getopt_long accepts unique prefixes), or NULL. */
static const cli_option_t *
option_by_long_prefix(const char *text)
{
    size_t n;

    if (strncmp(text, "--", 2) != 0 || (n = strlen(text + 2)) == 0)
        return NULL;
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (strncmp(options[i].long_name, text + 2, n) == 0)
            return &options[i];
    return NULL;
}

static void
print_option(FILE *out, const cli_option_t *opt)
{
    char left[48];

    snprintf(left, sizeof(left), "-%c, --%s%s%s", opt->short_name, opt->long_name,
             opt->arg_name ? " " : "", opt->arg_name ? opt->arg_name : "");
    fprintf(out, "  %-22s %s\n", left, opt->help);
}

static void
usage(FILE *out)
{
    fputs("usage: convoy COMMAND [options]\n"
          "\n"
          "Plan and apply PostgreSQL schema changes without blocking production.\n"
          "\n"
          "commands:\n",
          out);
    for (size_t i = 0; i < N_COMMANDS; i++) {
        char left[48];
        snprintf(left, sizeof(left), "%s %s", commands[i].name, args_synopsis(commands[i].args));
        fprintf(out, "  %-22s %s\n", left, commands[i].summary);
    }
    fputs("\n"
          "options:\n"
          "  -V, --version          print the version, then exit\n"
          "  -h, --help             show this help, then exit\n"
          "\n"
          "`convoy COMMAND --help` shows a command's options and exit codes.\n"
          "Passwords belong in ~/.pgpass or PGPASSFILE, never on the command line.\n"
          "See convoy(1) (docs/convoy.1.md) and docs/migration-format.md.\n",
          out);
}

static void
command_usage(FILE *out, const cli_command_t *cmd)
{
    fprintf(out, "usage: convoy %s%s%s [options]\n\n%s\n\noptions:\n", cmd->name,
            cmd->args == ARG_NONE ? "" : " ", args_synopsis(cmd->args), cmd->description);
    for (size_t i = 0; i < N_OPTIONS; i++)
        if ((cmd->options | OPT_ALWAYS) & options[i].bit)
            print_option(out, &options[i]);
    fputs("\nexit status:\n", out);
    for (size_t i = 0; cmd->codes[i] != CODES_END; i++)
        fprintf(out, "  %d  %s\n", cmd->codes[i], exit_meaning(cmd->codes[i]));
}

static const cli_command_t *
find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* One line on stderr and the usage exit code, as PostgreSQL's tools do. */
static int usage_error(const cli_command_t *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
usage_error(const cli_command_t *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "convoy%s%s: ", cmd ? " " : "", cmd ? cmd->name : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "; see 'convoy%s%s --help'\n", cmd ? " " : "", cmd ? cmd->name : "");
    return EXIT_USAGE;
}

/* "plan" or "plan and apply": the commands that take option bit. */
static void
commands_taking(unsigned bit, char *buf, size_t len)
{
    size_t n = 0, k = 0;

    for (size_t i = 0; i < N_COMMANDS; i++)
        n += (commands[i].options & bit) != 0;
    buf[0] = '\0';
    for (size_t i = 0; i < N_COMMANDS; i++) {
        size_t used = strlen(buf);
        if (!(commands[i].options & bit))
            continue;
        k++;
        snprintf(buf + used, len - used, "%s%s",
                 k == 1   ? ""
                 : k == n ? " and "
                          : ", ",
                 commands[i].name);
    }
}

/* The option text as the user wrote it, for messages: "--foo" or "-x". */
static void
offending_option(char **argv, int c, char *buf, size_t len)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "";

    if (strncmp(arg, "--", 2) == 0)
        snprintf(buf, len, "%.*s", (int)strcspn(arg, "="), arg);
    else if (c > 0 && c < 128)
        snprintf(buf, len, "-%c", c);
    else
        snprintf(buf, len, "%s", arg);
}

/*
 * Parses the options after the command. Returns -1 to go on, or the exit code to return
 * (after --help, or a usage error).
 */
static int
parse_options(const cli_command_t *cmd, int argc, char **argv, cli_opts_t *o)
{
    struct option long_opts[N_OPTIONS + 1];
    char short_opts[2 * N_OPTIONS + 2] = ":";
    int c;

    memset(long_opts, 0, sizeof(long_opts));
    for (size_t i = 0; i < N_OPTIONS; i++) {
        size_t n = strlen(short_opts);
        long_opts[i].name = options[i].long_name;
        long_opts[i].has_arg = options[i].arg_name ? required_argument : no_argument;
        long_opts[i].val = options[i].short_name;
        short_opts[n] = options[i].short_name;
        short_opts[n + 1] = options[i].arg_name ? ':' : '\0';
    }
    opterr = 0; /* the messages below say what to do instead */
    optind = 2;
    while ((c = getopt_long(argc, argv, short_opts, long_opts, NULL)) != -1) {
        const cli_option_t *opt = option_by_short(c);
        char text[64];

        if (c == '?') {
            offending_option(argv, optopt, text, sizeof(text));
            if ((opt = option_by_long_prefix(text)) != NULL)
                return usage_error(cmd, "option '--%s' takes no value", opt->long_name);
            return usage_error(cmd, "unknown option '%s'", text);
        }
        if (c == ':') {
            opt = option_by_short(optopt);
            return usage_error(cmd, "option '--%s' needs a value (%s)", opt ? opt->long_name : "?",
                               opt ? opt->arg_name : "?");
        }
        if (opt == NULL)
            return usage_error(cmd, "unexpected option");
        if (!((cmd->options | OPT_ALWAYS) & opt->bit)) {
            char takers[128];
            commands_taking(opt->bit, takers, sizeof(takers));
            return usage_error(cmd, "option '--%s' means nothing for %s (only for %s)",
                               opt->long_name, cmd->name, takers);
        }
        switch (opt->bit) {
        case OPT_DB:
            o->db = optarg;
            break;
        case OPT_JSON:
            o->json = true;
            break;
        case OPT_QUIET:
            o->quiet = true;
            break;
        case OPT_OFFLINE:
            o->offline = true;
            break;
        case OPT_VERBOSE:
            log_set_level(LOG_DEBUG);
            break;
        case OPT_HELP:
            command_usage(stdout, cmd);
            return EXIT_OK;
        case OPT_CLUSTER:
            o->cluster = optarg;
            break;
        case OPT_DETACH:
            o->detach = true;
            break;
        case OPT_WATCH:
            o->watch = true;
            break;
        case OPT_CONFIG:
            o->config = optarg;
            break;
        case OPT_BIND:
            o->bind = optarg;
            break;
        case OPT_INSECURE:
            o->insecure = true;
            break;
        case OPT_OUT:
            o->out = optarg;
            break;
        case OPT_ROLE:
            o->role = optarg;
            break;
        case OPT_CORPUS:
            o->corpus = optarg;
            break;
        case OPT_APP_VERSION:
            o->app_version = optarg;
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "text") != 0 && strcmp(optarg, "json") != 0 &&
                strcmp(optarg, "sarif") != 0 && strcmp(optarg, "github") != 0)
                return usage_error(cmd, "--format is text, json, sarif or github, not '%s'",
                                   optarg);
            o->format = optarg;
            break;
        case OPT_FAIL_ON:
            if (strcmp(optarg, "error") != 0 && strcmp(optarg, "warning") != 0 &&
                strcmp(optarg, "info") != 0 && strcmp(optarg, "never") != 0)
                return usage_error(cmd, "--fail-on is error, warning, info or never, not '%s'",
                                   optarg);
            o->fail_on = optarg;
            break;
        case OPT_SCHEMA:
            o->schema = optarg;
            break;
        case OPT_STAGING:
            o->staging = optarg;
            break;
        case OPT_SCALE: {
            char *end = NULL;
            o->scale = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(o->scale > 0) || o->scale > 1000)
                return usage_error(cmd,
                                   "--scale takes a factor above 0 and up to 1000, such as "
                                   "0.1 or 2, not '%s'",
                                   optarg);
            break;
        }
        case OPT_TRAFFIC:
            o->traffic = optarg;
            break;
        case OPT_BASELINE:
            o->compare = optarg;
            break;
        case OPT_TOP: {
            int64_t n;
            if (!parse_int64(optarg, 1, 1000, &n))
                return usage_error(cmd, "--top takes a count from 1 to 1000, not '%s'", optarg);
            o->top = (int)n;
            break;
        }
        case OPT_THRESHOLD: {
            char *end = NULL;
            o->threshold_pct = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(o->threshold_pct >= 0) ||
                o->threshold_pct > 100000)
                return usage_error(cmd, "--threshold takes a percentage such as 20, not '%s'",
                                   optarg);
            o->has_threshold = true;
            break;
        }
        case OPT_GATE:
            if (strcmp(optarg, "expand") != 0 && strcmp(optarg, "contract") != 0)
                return usage_error(cmd, "--gate is expand or contract, not '%s'", optarg);
            o->gate = optarg;
            break;
        case OPT_TIMEOUT:
            if (!parse_duration_ms(optarg, &o->timeout_ms) || o->timeout_ms <= 0)
                return usage_error(cmd, "--timeout takes a duration such as 30s or 5m, not '%s'",
                                   optarg);
            break;
        }
    }
    return -1;
}

int
main(int argc, char **argv)
{
    const cli_command_t *cmd;
    cli_opts_t o = {0};
    int rc, n_args;

    if (argc < 2)
        return usage_error(NULL, "no command given");
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        (strcmp(argv[1], "help") == 0 && argc == 2)) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("convoy %s\n", CONVOY_VERSION);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "help") == 0) {
        /* convoy help COMMAND */
        if (argc != 3 || (cmd = find_command(argv[2])) == NULL)
            return usage_error(NULL, "unknown command '%s'", argv[argc - 1]);
        command_usage(stdout, cmd);
        return EXIT_OK;
    }
    if (argv[1][0] == '-')
        return usage_error(NULL, "expected a command before '%s'", argv[1]);
    if ((cmd = find_command(argv[1])) == NULL)
        return usage_error(NULL, "unknown command '%s'", argv[1]);
    if ((rc = parse_options(cmd, argc, argv, &o)) >= 0)
        return rc;

    n_args = argc - optind;
    switch (cmd->args) {
    case ARG_FILE:
        if (n_args == 0 && o.cluster && strlen(o.cluster) > 4 &&
            strcmp(o.cluster + strlen(o.cluster) - 4, ".sql") == 0)
            return usage_error(cmd,
                               "expected a migration FILE; --cluster took '%s' as the cluster "
                               "config: put the cluster config after --cluster, or set "
                               "$CONVOY_CLUSTER",
                               o.cluster);
        if (n_args != 1)
            return usage_error(cmd, "expected exactly one migration FILE, got %d arguments",
                               n_args);
        o.file = argv[optind];
        break;
    case ARG_NAME:
        if (n_args != 1)
            return usage_error(cmd, "expected exactly one migration NAME, got %d arguments",
                               n_args);
        o.name = argv[optind];
        break;
    case ARG_OPTIONAL_NAME:
        if (n_args > 1)
            return usage_error(cmd, "expected at most one migration NAME, got %d arguments",
                               n_args);
        o.name = n_args == 1 ? argv[optind] : NULL;
        break;
    case ARG_NONE:
        if (n_args > 0)
            return usage_error(cmd, "takes no arguments, got %d", n_args);
        break;
    case ARG_ACTION_NAME:
        if (n_args != 2 || (strcmp(argv[optind], "wait") != 0 && strcmp(argv[optind], "show") != 0))
            return usage_error(cmd, "expected `wait NAME` or `show NAME`");
        o.action = argv[optind];
        o.name = argv[optind + 1];
        break;
    case ARG_FILES:
        if (n_args < 1)
            return usage_error(cmd, "expected at least one migration FILE");
        o.files = (const char *const *)&argv[optind];
        o.n_files = n_args;
        break;
    case ARG_NAME_SETTINGS:
        if (n_args < 2)
            return usage_error(cmd, "expected NAME and at least one key=value, got %d arguments",
                               n_args);
        o.name = argv[optind];
        o.settings = (const char *const *)&argv[optind + 1];
        o.n_settings = n_args - 1;
        break;
    }
    /* the fleet's commands reach the primary through the cluster config */
    if ((cmd->options & OPT_CLUSTER) && (rc = cli_resolve_cluster(&o)) != EXIT_OK)
        return rc;
    log_debug("convoy %s: command %s", CONVOY_VERSION, cmd->name);
    /* An unknown NAME is one message and one exit code for every command. */
    if (o.name == NULL || (rc = cli_require_migration(&o)) == EXIT_OK)
        rc = cmd->run(&o);
    free(o.cluster_db);
    free(o.cluster_name);
    return rc;
}
