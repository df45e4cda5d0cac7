/* main.c: `convoy` command-line entry point: option parsing and dispatch. */
#include "cli.h"
#include "convoy/log.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: convoy <command> [options]\n"
    "\n"
    "Plan and apply PostgreSQL schema changes without blocking production.\n"
    "\n"
    "commands:\n"
    "  plan FILE            show the lock-safe steps convoy would run, and why (reads the\n"
    "                       live catalog when --db or PGHOST/PGDATABASE/PGSERVICE is set)\n"
    "  apply FILE           run them: short lock timeouts, batched resumable backfill\n"
    "  status [NAME]        migrations and their progress\n"
    "  audit [NAME]         the append-only audit log\n"
    "  abort NAME           stop a migration at the next safe point\n"
    "  fsm                  the migration lifecycle: every status and transition\n"
    "\n"
    "options:\n"
    "  -d, --db CONNINFO    libpq conninfo or URL (default: PG* environment variables)\n"
    "  -j, --json           machine-readable output on stdout\n"
    "  -q, --quiet          no progress output\n"
    "  -o, --offline        plan: do not connect, even when PG* variables are set\n"
    "  -v, --verbose        debug logging\n"
    "  -h, --help           this help\n"
    "\n"
    "exit codes: 0 ok, 1 error, 2 usage, 3 refused as unsafe, 4 lease held by another\n"
    "convoy, 5 lock not acquired within the retry budget, 6 data must be fixed first\n"
    "(orphans, duplicates), 7 aborted.\n"
    "\n"
    "Passwords belong in ~/.pgpass or PGPASSFILE, never on the command line.\n"
    "See docs/convoy.1.md and docs/migration-format.md.\n";

static void
usage(FILE *out)
{
    fputs(usage_text, out);
}

int
main(int argc, char **argv)
{
    static const struct option long_opts[] = {{"db", required_argument, NULL, 'd'},
                                              {"json", no_argument, NULL, 'j'},
                                              {"quiet", no_argument, NULL, 'q'},
                                              {"verbose", no_argument, NULL, 'v'},
                                              {"help", no_argument, NULL, 'h'},
                                              {"offline", no_argument, NULL, 'o'},
                                              {NULL, 0, NULL, 0}};
    cli_opts_t o = {0};
    const char *cmd;
    int c;

    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    optind = 2;
    while ((c = getopt_long(argc, argv, "d:jqvho", long_opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            o.db = optarg;
            break;
        case 'j':
            o.json = true;
            break;
        case 'q':
            o.quiet = true;
            break;
        case 'v':
            log_set_level(LOG_DEBUG);
            break;
        case 'o':
            o.offline = true;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (strcmp(cmd, "plan") == 0 || strcmp(cmd, "apply") == 0) {
        if (optind != argc - 1) {
            fprintf(stderr, "convoy %s: expected exactly one migration FILE\n", cmd);
            return EXIT_USAGE;
        }
        o.file = argv[optind];
        return strcmp(cmd, "plan") == 0 ? cmd_plan(&o) : cmd_apply(&o);
    }
    if (strcmp(cmd, "fsm") == 0)
        return cmd_fsm(&o);
    if (strcmp(cmd, "status") == 0 || strcmp(cmd, "audit") == 0 || strcmp(cmd, "abort") == 0) {
        if (optind < argc - 1 || (strcmp(cmd, "abort") == 0 && optind != argc - 1)) {
            fprintf(stderr, "convoy %s: expected %s\n", cmd,
                    strcmp(cmd, "abort") == 0 ? "exactly one migration NAME" : "at most one NAME");
            return EXIT_USAGE;
        }
        o.name = optind < argc ? argv[optind] : NULL;
        if (strcmp(cmd, "status") == 0)
            return cmd_status(&o);
        if (strcmp(cmd, "audit") == 0)
            return cmd_audit(&o);
        return cmd_abort(&o);
    }
    fprintf(stderr, "convoy: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return EXIT_USAGE;
}
