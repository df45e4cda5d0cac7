/* cmd_gates.c: `convoy verify` and `convoy gate wait|show`. */
#include "cli.h"
#include "convoy/cluster.h"
#include "convoy/compat.h"
#include "convoy/gates.h"
#include "convoy/report.h"
#include "convoy/state.h"
#include "convoy/util.h"
#include "convoy/verify.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int
cli_verify(
    const cli_opts_t *o, const char *name, const char *file, bool summary_only, json_t **result)
{
    verify_req_t req = {0};
    cluster_t cl = {0};
    const char **names = NULL, **conns = NULL;
    size_t n = 0;
    bool passed = false, have_cluster = false;
    json_t *checks = NULL;
    char *err = NULL, *actor = cli_actor();
    int rc = EXIT_ERROR;

    if (o->cluster) {
        char *errors = NULL;
        if (!cluster_load(o->cluster, &cl, &errors)) {
            fprintf(stderr, "%s\n", errors);
            free(errors);
            free(actor);
            return EXIT_ERROR;
        }
        have_cluster = true;
        names = xcalloc(cl.n_nodes + 1, sizeof(char *));
        conns = xcalloc(cl.n_nodes + 1, sizeof(char *));
        for (size_t i = 0; i < cl.n_nodes; i++)
            if (cl.nodes[i].replica) {
                names[n] = cl.nodes[i].name;
                conns[n++] = cl.nodes[i].conninfo;
            }
    }
    req.conninfo = o->db;
    req.name = name;
    req.actor = actor;
    req.file = file;
    req.replica_names = names;
    req.replica_conninfos = conns;
    req.n_replicas = n;
    if (!engine_verify(&req, &passed, &checks, &err)) {
        fprintf(stderr, "convoy verify: %s\n", err ? err : "failed");
    } else {
        size_t i;
        json_t *c;
        if (result) {
            *result = json_pack("{s:b, s:O}", "passed", passed, "checks", checks);
        } else if (o->json) {
            cli_print_json(json_pack("{s:s, s:b, s:O}", "migration", name, "passed", passed,
                                     "checks", checks));
        } else {
            FILE *out = summary_only ? stderr : stdout;
            size_t failed = 0;
            json_array_foreach(checks, i, c)
            {
                bool ok = json_is_true(json_object_get(c, "ok"));
                failed += !ok;
                if (!ok || !summary_only)
                    fprintf(out, "%s %-8s %-16s %s\n", ok ? "ok  " : "FAIL",
                            json_string_value(json_object_get(c, "node")),
                            json_string_value(json_object_get(c, "check")),
                            json_string_value(json_object_get(c, "detail")));
            }
            if (!(summary_only && passed && o->quiet) && passed)
                fprintf(out, "convoy: verification of %s passed (%zu checks)\n", name,
                        json_array_size(checks));
            else if (!passed)
                fprintf(out, "convoy: verification of %s FAILED (%zu of %zu checks failed)\n", name,
                        failed, json_array_size(checks));
        }
        rc = passed ? EXIT_OK : EXIT_ERROR;
    }
    json_decref(checks);
    free(err);
    free(actor);
    free(names);
    free(conns);
    if (have_cluster)
        cluster_free(&cl);
    return rc;
}

int
cmd_verify(const cli_opts_t *o)
{
    return cli_verify(o, o->name, NULL, false, NULL);
}

static volatile sig_atomic_t gate_stop;

static void
on_gate_signal(int sig)
{
    (void)sig;
    gate_stop = 1;
}

static void
print_gate(const cli_opts_t *o, const char *gate, dgate_state_t st, json_t *reasons)
{
    size_t i;
    json_t *r;

    if (o->json) {
        cli_print_json(json_pack("{s:s, s:s, s:s, s:O}", "migration", o->name, "gate", gate,
                                 "state", dgate_state_name(st), "reasons", reasons));
        return;
    }
    printf("%s gate of %s: %s\n", gate, o->name, dgate_state_name(st));
    json_array_foreach(reasons, i, r) printf("    %s\n", json_string_value(r));
}

int
cmd_gate(const cli_opts_t *o)
{
    const char *gate = o->gate ? o->gate : "expand";
    pg_t *pg = cli_connect(o);
    int64_t t0 = now_mono_ms();
    char last[2048] = "";
    struct sigaction sa;
    int rc = EXIT_ERROR;

    if (pg == NULL)
        return EXIT_ERROR;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_gate_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    for (;;) {
        dgate_state_t st;
        json_t *reasons = NULL;
        char *txt;

        if (!gates_evaluate(pg, o->name, gate, &st, &reasons)) {
            fprintf(stderr, "convoy gate: %s\n", pg_errmsg(pg));
            json_decref(reasons);
            break;
        }
        txt = json_dumps(reasons, JSON_COMPACT);
        if (strcmp(o->action, "show") == 0 || st != DG_PENDING) {
            print_gate(o, gate, st, reasons);
            rc = st == DG_FAILED ? EXIT_ERROR : EXIT_OK;
            free(txt);
            json_decref(reasons);
            break;
        }
        if (strcmp(txt, last) != 0 && !o->json) {
            /* the reasons that hold it, each time they change */
            print_gate(o, gate, st, reasons);
            snprintf(last, sizeof(last), "%s", txt);
        }
        free(txt);
        json_decref(reasons);
        if (o->timeout_ms > 0 && now_mono_ms() - t0 >= o->timeout_ms) {
            fprintf(stderr, "convoy gate: %s gate of %s still pending after the timeout\n", gate,
                    o->name);
            rc = 2; /* the deploy tools' contract: 0 open, 1 failed, 2 timed out */
            break;
        }
        if (gate_stop || !run_ctl_sleep(NULL, 500) || gate_stop) {
            rc = 2;
            break;
        }
    }
    pg_close(&pg);
    return rc;
}

int
cmd_init(const cli_opts_t *o)
{
    pg_t *pg;
    char *err = NULL;

    if (o->role == NULL) {
        fprintf(stderr, "convoy init: give --role ROLE, the database role convoy will run as\n");
        return EXIT_USAGE;
    }
    if ((pg = cli_connect(o)) == NULL)
        return EXIT_ERROR;
    if (!state_init_owner(pg, o->role, &err)) {
        fprintf(stderr, "%s\n", err);
        free(err);
        pg_close(&pg);
        return EXIT_ERROR;
    }
    fprintf(stderr,
            "convoy: schema convoy is owned by convoy_owner; %s may use it and append to "
            "convoy.audit, never change it\n",
            o->role);
    pg_close(&pg);
    return EXIT_OK;
}

void
cli_write_report(const cli_opts_t *o, const char *name)
{
    pg_t *pg = cli_connect(o);
    const char *env = getenv("CONVOY_REPORT_DIR");
    char *dir = xstrdup(env && env[0] ? env : "convoy-reports"), *md = NULL, *err = NULL;

    mkdir(dir, 0755);
    if (pg && report_write(pg, name, dir, &md, &err)) {
        if (!o->quiet && !o->json)
            fprintf(stderr, "convoy: report: %s (and .json)\n", md);
    } else if (pg) {
        fprintf(stderr, "convoy: writing the report: %s\n", err);
    }
    free(md);
    free(err);
    free(dir);
    pg_close(&pg);
}

int
cmd_compat(const cli_opts_t *o)
{
    compat_req_t req = {0};
    json_t *rep = NULL, *e;
    char *err = NULL, *actor;
    bool ok = false;
    size_t i;

    if (o->corpus == NULL || o->app_version == NULL) {
        fprintf(stderr, "convoy compat: give --corpus FILE and --app-version VERSION\n");
        return EXIT_USAGE;
    }
    actor = cli_actor();
    req.conninfo = o->db;
    req.name = o->name;
    req.version = o->app_version;
    req.corpus = o->corpus;
    req.actor = actor;
    if (!engine_compat(&req, &ok, &rep, &err)) {
        fprintf(stderr, "convoy compat: %s\n", err);
        free(err);
        free(actor);
        return EXIT_ERROR;
    }
    if (o->json) {
        cli_print_json(json_pack("{s:s, s:s, s:b, s:O}", "migration", o->name, "version",
                                 o->app_version, "ok", ok, "findings", rep));
    } else {
        json_array_foreach(rep, i, e)
            fprintf(stderr, "%s:%lld: %s: %s\n    %s\n", o->corpus,
                    (long long)json_integer_value(json_object_get(e, "line")),
                    json_string_value(json_object_get(e, "level")),
                    json_string_value(json_object_get(e, "reason")),
                    json_string_value(json_object_get(e, "sql")));
        fprintf(stderr, "convoy: app %s against %s: %s\n", o->app_version, o->name,
                ok ? "compatible" : "NOT compatible");
    }
    json_decref(rep);
    free(actor);
    return ok ? EXIT_OK : EXIT_ERROR;
}
