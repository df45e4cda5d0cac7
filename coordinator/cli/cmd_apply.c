/* cmd_apply.c: `convoy apply FILE`: options in, engine_apply, events rendered. */
#include "cli.h"
#include "convoy/engine.h"
#include "convoy/util.h"
#include "render.h"

#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static run_ctl_t ctl;

static void
on_signal(int sig)
{
    (void)sig;
    run_ctl_stop(&ctl);
}

void
cli_install_stop_handler(run_ctl_t **out)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    *out = &ctl;
}

char *
cli_actor(void)
{
    char host[256] = "unknown-host";
    const struct passwd *pw = getpwuid(getuid());
    const char *user = pw ? pw->pw_name : getenv("USER");

    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    return xasprintf("%s@%s pid %ld", user && *user ? user : "unknown", host, (long)getpid());
}

int
cmd_apply(const cli_opts_t *o)
{
    migration_t m;
    engine_outcome_t out;
    engine_events_t ev;
    render_t r;
    run_ctl_t *c;
    apply_req_t req = {0};
    char *actor, *source = NULL;
    json_t *verification = NULL, *followed = NULL;
    int code;

    render_init(&r, o->file, o->quiet || o->json);
    memset(&out, 0, sizeof(out));
    if (!cli_load_migration(o->file, &m, &out.message)) {
        out.result = RES_INVALID;
        code = render_exit_code(out.result);
        if (o->json)
            cli_print_json(render_outcome_json(&r, "", &out, code));
        engine_outcome_free(&out);
        render_free(&r);
        return code;
    }
    actor = cli_actor();
    cli_install_stop_handler(&c);
    req.conninfo = o->db;
    req.file = o->file;
    req.m = &m;
    req.actor = actor;
    req.dead_holder_wait_ms = 30000;
    /* stored with the migration: the coordinator drives it from this text, verify reads
     * the intended columns from it */
    req.source = source = read_file(o->file, NULL);
    if (o->cluster) {
        req.submit_only = true;
        req.cluster = o->cluster_name;
    }
    ev.emit = render_event;
    ev.ud = &r;
    engine_apply(&req, c, &ev, &out);
    code = render_exit_code(out.result);
    render_outcome(&r, m.name, &out);
    if (out.result == RES_SUBMITTED && !o->detach)
        code = cli_follow(o, m.name, o->json ? &followed : NULL);
    else if (out.result == RES_DONE) /* the expand gate waits for it */
        code = cli_verify(o, m.name, o->file, true, o->json ? &verification : NULL);
    if (out.result != RES_SUBMITTED && out.result != RES_INVALID && out.result != RES_REFUSED &&
        out.result != RES_BUSY && out.result != RES_NOOP && out.result != RES_ERROR)
        cli_write_report(o, m.name);
    if (o->json) {
        json_t *j = render_outcome_json(&r, m.name, &out, code);
        if (verification)
            json_object_set_new(j, "verification", verification);
        if (followed) /* the coordinator drove it: how it ended */
            json_object_set_new(j, "coordinator", followed);
        cli_print_json(j);
    }
    engine_outcome_free(&out);
    render_free(&r);
    free(actor);
    free(source);
    migration_free(&m);
    return code;
}
