/* main.c: `convoy-agent` options (--config FILE, --check-config, -v, --help, --version) and
 * the `gate wait` subcommand. */
#include "agent.h"
#include "config.h"
#include "convoy/log.h"
#include "convoy/util.h"
#include "gate_wait.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CONVOY_VERSION
#error "CONVOY_VERSION must be defined by the build (the CMake project version)"
#endif

enum { EXIT_AGENT_OK = 0, EXIT_AGENT_ERROR = 1, EXIT_AGENT_CONFIG = 2 };
enum { OPT_CHECK_CONFIG = 256 };

static void
usage(FILE *out)
{
    fputs("usage: convoy-agent --config FILE [--check-config] [-v]\n"
          "       convoy-agent gate wait --config FILE [--version V] [--timeout DURATION]\n"
          "\n"
          "The per-node agent of a convoy fleet: it connects to every coordinator the config\n"
          "lists and reports, every heartbeat, what the coordinator cannot see from the\n"
          "primary (replay position, replica readers, conflicts); it answers wait_lsn and\n"
          "readers commands. With role = cache it works the Redis invalidation outbox\n"
          "(convoy.invalidations) instead; with role = app it reports the app's version and\n"
          "error rate. See docs/fleet.md.\n"
          "\n"
          "options:\n"
          "  -c, --config FILE      the agent config (INI, an [agent] section)\n"
          "      --check-config     check FILE (keys, endpoints, key files), print every\n"
          "                         problem, then exit\n"
          "  -v, --verbose          debug logging on stderr\n"
          "  -V, --version          print the version, then exit\n"
          "  -h, --help             show this help, then exit\n"
          "\n"
          "config keys ([agent]): node, role (replica | primary | cache | app), conninfo,\n"
          "coordinators (space-separated tcp://HOST:PORT), coordinator_key (a .pub file or\n"
          "the key), key_file (this agent's .key), heartbeat (default 100ms), insecure\n"
          "(default false). role = cache (Redis invalidation; conninfo is the primary's):\n"
          "redis (redis://HOST:PORT[/DB], required), redis_password_file (the password is\n"
          "read from it), second_pass (default 500ms), purge_rate (SCAN calls a second,\n"
          "default 50). role = app (conninfo optional): app_version (required),\n"
          "error_counter_file (a file holding the app's total error count, one integer).\n"
          "Relative paths are relative to the config file's directory.\n"
          "\n"
          "signals:\n"
          "  SIGHUP                 reload FILE: heartbeat, conninfo, the cache keys and the\n"
          "                         app keys take effect; node, role, coordinators, keys and\n"
          "                         insecure need a restart\n"
          "  SIGTERM, SIGINT        stop\n"
          "\n"
          "gate wait: the local deploy gate (systemd ExecStartPre=, a rolling-update hook):\n"
          "blocks until the coordinators allow app version V (default: the config's\n"
          "app_version) to start on this node, i.e. the expand gate of every migration\n"
          "that is for V (-- convoy:app-version V) is open. Exit 0 open, 1 failed, 2 timeout\n"
          "(or no coordinator answered), 3 a bad config or usage. See docs/gates.md.\n"
          "\n"
          "exit status:\n"
          "  0  stopped by SIGTERM or SIGINT, or --check-config found no problem\n"
          "  1  a runtime error (sockets)\n"
          "  2  a bad config or a usage error\n",
          out);
}

static int
usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "convoy-agent: %s%s%s; see 'convoy-agent --help'\n", what, arg ? " " : "",
            arg ? arg : "");
    return EXIT_AGENT_CONFIG;
}

/* convoy-agent gate wait --config FILE [--version V] [--timeout DURATION] */
static int
gate_main(int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"config", required_argument, NULL, 'c'},  {"version", required_argument, NULL, 'V'},
        {"timeout", required_argument, NULL, 't'}, {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *version = NULL;
    int64_t timeout_ms = -1;
    agent_config_t cfg;
    agent_config_errors_t errs;
    int c, rc;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:V:t:vh", long_opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'V':
            version = optarg;
            break;
        case 't':
            if (!parse_duration_ms(optarg, &timeout_ms) || timeout_ms < 0) {
                fprintf(stderr,
                        "convoy-agent gate wait: --timeout %s is not a duration (e.g. 30s, "
                        "10m)\n",
                        optarg);
                return GATE_WAIT_ERROR;
            }
            break;
        case 'v':
            log_set_level(LOG_DEBUG);
            break;
        case 'h':
            usage(stdout);
            return EXIT_AGENT_OK;
        default:
            fprintf(stderr, "convoy-agent gate wait: %s %s; see 'convoy-agent --help'\n",
                    c == ':' ? "option needs a value:" : "unknown option", argv[optind - 1]);
            return GATE_WAIT_ERROR;
        }
    }
    if (optind < argc || config == NULL) {
        fprintf(stderr,
                "convoy-agent gate wait: %s%s; usage: convoy-agent gate wait --config "
                "FILE [--version V] [--timeout DURATION]\n",
                optind < argc ? "unexpected argument " : "no config given",
                optind < argc ? argv[optind] : "");
        return GATE_WAIT_ERROR;
    }
    if (!agent_config_load(config, &cfg, &errs)) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s\n", errs.lines[i]);
        agent_config_errors_free(&errs);
        return GATE_WAIT_ERROR;
    }
    if (version == NULL)
        version = cfg.app_version;
    if (version == NULL || version[0] == '\0') {
        fprintf(stderr,
                "convoy-agent gate wait: %s has no app_version (role = app); give "
                "--version V\n",
                config);
        agent_config_free(&cfg);
        return GATE_WAIT_ERROR;
    }
    rc = gate_wait_run(&cfg, version, timeout_ms);
    agent_config_free(&cfg);
    return rc;
}

int
main(int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, OPT_CHECK_CONFIG},
        {"verbose", no_argument, NULL, 'v'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL;
    bool check = false;
    agent_config_t cfg;
    agent_config_errors_t errs;
    int c;

    if (argc >= 3 && strcmp(argv[1], "gate") == 0 && strcmp(argv[2], "wait") == 0)
        return gate_main(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "gate") == 0) {
        fprintf(stderr, "convoy-agent gate: the subcommand is `gate wait`; see 'convoy-agent "
                        "--help'\n");
        return EXIT_AGENT_CONFIG;
    }
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:vVh", long_opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case OPT_CHECK_CONFIG:
            check = true;
            break;
        case 'v':
            log_set_level(LOG_DEBUG);
            break;
        case 'V':
            printf("convoy-agent %s\n", CONVOY_VERSION);
            return EXIT_AGENT_OK;
        case 'h':
            usage(stdout);
            return EXIT_AGENT_OK;
        case ':':
            return usage_error("option needs a value:", argv[optind - 1]);
        default:
            return usage_error("unknown option", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument", argv[optind]);
    if (config == NULL)
        return usage_error("no config given: use --config FILE", NULL);

    if (!agent_config_load(config, &cfg, &errs)) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s\n", errs.lines[i]);
        fprintf(stderr, "convoy-agent: %zu problem%s in %s; %s\n", errs.n, errs.n == 1 ? "" : "s",
                config, check ? "fix them and check again" : "not started");
        agent_config_errors_free(&errs);
        return EXIT_AGENT_CONFIG;
    }
    if (check) {
        printf("%s: ok (node %s, role %s, %zu coordinator%s, heartbeat %lld ms, %s", config,
               cfg.node, agent_role_name(cfg.role), cfg.n_coordinators,
               cfg.n_coordinators == 1 ? "" : "s", (long long)cfg.heartbeat_ms,
               cfg.insecure ? "INSECURE (no CURVE)" : "CURVE");
        if (cfg.role == AGENT_CACHE)
            printf(", redis %s%s, second_pass %lld ms, purge_rate %lld SCAN/s", cfg.redis,
                   cfg.redis_password ? " with a password" : "", (long long)cfg.second_pass_ms,
                   (long long)cfg.purge_rate);
        if (cfg.role == AGENT_APP)
            printf(", app_version %s, error counter %s, %s", cfg.app_version,
                   cfg.error_counter_path ? cfg.error_counter_path : "none",
                   cfg.conninfo ? "a database" : "no database");
        printf(")\n");
        agent_config_free(&cfg);
        return EXIT_AGENT_OK;
    }
    return agent_run(&cfg);
}
