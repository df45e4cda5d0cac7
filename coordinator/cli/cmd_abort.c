/* cmd_abort.c: `convoy abort NAME`: options in, engine_abort, events rendered. */
#include "cli.h"
#include "convoy/engine.h"
#include "convoy/util.h"
#include "render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
cmd_abort(const cli_opts_t *o)
{
    engine_outcome_t out;
    engine_events_t ev;
    render_t r;
    run_ctl_t *c;
    abort_req_t req = {0};
    char *actor = cli_actor();
    int code;

    render_init(&r, NULL, o->quiet || o->json);
    cli_install_stop_handler(&c);
    req.conninfo = o->db;
    req.name = o->name;
    req.actor = actor;
    req.wait_ms = 60000;
    ev.emit = render_event;
    ev.ud = &r;
    engine_abort(&req, c, &ev, &out);
    /* for abort, "aborted" is success */
    code = out.result == RES_ABORTED ? EXIT_OK : render_exit_code(out.result);
    if (out.result == RES_ABORTED) {
        progress_line(&r.prog, "convoy: %s", out.message ? out.message : "aborted");
        if (out.undone)
            progress_line(&r.prog, "  removed: %s", out.undone);
        if (out.kept)
            progress_line(&r.prog, "  still in place: %s", out.kept);
        progress_line(&r.prog,
                      "  kept: columns, defaults, constraints and indexes already completed, and "
                      "backfilled values; convoy apply resumes from the checkpoint");
    } else {
        render_outcome(&r, o->name, &out);
    }
    if (o->json)
        cli_print_json(render_outcome_json(&r, o->name, &out, code));
    engine_outcome_free(&out);
    render_free(&r);
    free(actor);
    return code;
}
