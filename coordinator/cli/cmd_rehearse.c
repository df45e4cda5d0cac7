/* cmd_rehearse.c: `convoy rehearse FILE --db PROD --staging STAGING`: options in, report out. */
#include "cli.h"
#include "convoy/rehearse.h"
#include "convoy/util.h"
#include "render.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool
write_out(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    bool ok;
    if (f == NULL) {
        fprintf(stderr, "convoy rehearse: cannot write %s: %s\n", path, strerror(errno));
        return false;
    }
    ok = fputs(text, f) >= 0;
    if (fclose(f) != 0 || !ok) {
        fprintf(stderr, "convoy rehearse: cannot write %s: %s\n", path, strerror(errno));
        return false;
    }
    return true;
}

int
cmd_rehearse(const cli_opts_t *o)
{
    migration_t m;
    rehearse_req_t req = {0};
    rehearse_out_t out;
    engine_events_t ev;
    render_t r;
    run_ctl_t *c;
    char *actor, *prefix, *path;
    const char *env = getenv("CONVOY_REPORT_DIR");
    int code = EXIT_OK;

    if (o->staging == NULL) {
        fprintf(stderr, "convoy rehearse: give --staging CONNINFO, the database the rehearsal "
                        "may replace the tables of (never PROD); see 'convoy rehearse --help'\n");
        return EXIT_USAGE;
    }
    if (o->compare && strcmp(o->compare, "psql") != 0) {
        fprintf(stderr,
                "convoy rehearse: --baseline is psql (the file run as written), not "
                "'%s'\n",
                o->compare);
        return EXIT_USAGE;
    }
    if (!cli_load_migration(o->file, &m, NULL))
        return EXIT_ERROR;
    render_init(&r, o->file, o->quiet || o->json);
    actor = cli_actor();
    cli_install_stop_handler(&c);
    req.prod = o->db;
    req.staging = o->staging;
    req.file = o->file;
    req.m = &m;
    req.actor = actor;
    req.scale = o->scale > 0 ? o->scale : 1.0;
    req.traffic = o->traffic;
    req.baseline_psql = o->compare != NULL;
    req.clients = 4;
    req.settle_ms = 2000;
    ev.emit = render_event;
    ev.ud = &r;
    rehearse_run(&req, c, &ev, &out);
    if (out.result != RES_DONE) {
        fprintf(stderr, "convoy rehearse: %s\n", out.message ? out.message : "failed");
        code = out.result == RES_INTERRUPTED ? EXIT_ABORTED : EXIT_ERROR;
        goto done;
    }
    if (o->out) {
        prefix = xstrdup(o->out);
    } else {
        char *dir = xstrdup(env && env[0] ? env : "convoy-reports");
        mkdir(dir, 0755);
        prefix = xasprintf("%s/%s.rehearsal", dir, m.name);
        free(dir);
    }
    path = xasprintf("%s.md", prefix);
    if (!write_out(path, out.markdown))
        code = EXIT_ERROR;
    free(path);
    path = xasprintf("%s.html", prefix);
    if (!write_out(path, out.html))
        code = EXIT_ERROR;
    free(path);
    path = xasprintf("%s.json", prefix);
    if (json_dump_file(out.report, path, JSON_INDENT(2) | JSON_SORT_KEYS) != 0) {
        fprintf(stderr, "convoy rehearse: cannot write %s\n", path);
        code = EXIT_ERROR;
    }
    free(path);
    if (o->json) {
        cli_print_json(json_incref(out.report));
    } else {
        const json_t *risk = json_object_get(out.report, "risk"), *x;
        size_t i;
        printf("rehearsal of %s: risk %d/100 (%s)\n", m.name,
               (int)json_integer_value(json_object_get(risk, "score")),
               json_string_value(json_object_get(risk, "level")));
        json_array_foreach(json_object_get(risk, "reasons"), i, x)
            printf("  - %s\n", json_string_value(x));
        printf("for PROD: add `%s` to %s\n", json_string_value(json_object_get(risk, "directive")),
               o->file);
        printf("report: %s.md, %s.html, %s.json\n", prefix, prefix, prefix);
    }
    free(prefix);
done:
    rehearse_out_free(&out);
    render_free(&r);
    free(actor);
    migration_free(&m);
    return code;
}
