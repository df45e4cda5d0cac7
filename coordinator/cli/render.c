/* render.c: how the CLI shows what the engine reports. */
#include "render.h"

#include "convoy/exit.h"
#include "convoy/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
render_init(render_t *r, const char *file, bool quiet)
{
    progress_init(&r->prog, quiet);
    r->file = file;
    r->steps = json_array();
    r->notes = json_array();
}

void
render_free(render_t *r)
{
    json_decref(r->steps);
    json_decref(r->notes);
    r->steps = r->notes = NULL;
}

static json_t *
str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

void
render_event(void *ud, const engine_event_t *e)
{
    render_t *r = ud;
    char eta[32];

    switch (e->kind) {
    case EVT_INFO:
    case EVT_WAIT:
        progress_line(&r->prog, "%s", e->text);
        break;
    case EVT_NOTE:
        json_array_append_new(
            r->notes, json_pack("{s:s, s:i, s:s, s:o}", "kind", e->note_kind, "line", e->note->line,
                                "message", e->note->message, "fix", str_or_null(e->note->fix)));
        if (r->prog.quiet && e->note_kind[0] == 'w')
            break;
        fprintf(stderr, "convoy: %s:%d: %s: %s\n", r->file ? r->file : "?", e->note->line,
                e->note_kind, e->note->message);
        if (e->note->fix)
            fprintf(stderr, "  %s: %s\n",
                    e->note_kind[0] == 'r'   ? "safe alternative"
                    : e->note_kind[0] == 'w' ? "hint"
                                             : "fix",
                    e->note->fix);
        break;
    case EVT_STEP_BEGIN:
        progress_line(&r->prog, "[%d/%d] %s", e->step, e->n_steps, e->text);
        break;
    case EVT_STEP_END: {
        json_t *o =
            json_pack("{s:i, s:s, s:s, s:s}", "n", e->step, "kind", step_kind_name(e->s->kind),
                      "summary", e->s->summary ? e->s->summary : "", "outcome", e->outcome);
        json_object_set_new(o, "duration_ms", e->ms >= 0 ? json_integer(e->ms) : json_null());
        json_object_set_new(o, "rows", e->rows >= 0 ? json_integer(e->rows) : json_null());
        json_object_set_new(o, "detail", str_or_null(e->text));
        json_array_append_new(r->steps, o);
        if (e->s->kind == STEP_BACKFILL && e->text && strcmp(e->outcome, "done") == 0)
            progress_line(&r->prog, "    backfill done: %s", e->text);
        break;
    }
    case EVT_HOLD:
        if (e->text && e->text[0])
            progress_status(&r->prog, "    %s", e->text);
        break;
    case EVT_PROGRESS:
        format_duration(e->eta_ms, eta, sizeof(eta));
        progress_status(&r->prog,
                        "    backfill %.1f%%  %lld rows updated  %.0f rows/s  ETA %s  batch %lld "
                        "rows in %lld ms",
                        e->pct, (long long)e->updated, e->rate, e->eta_ms >= 0 ? eta : "?",
                        (long long)e->batch_rows, (long long)e->batch_ms);
        break;
    }
}

void
render_outcome(render_t *r, const char *name, const engine_outcome_t *o)
{
    progress_finish(&r->prog);
    switch (o->result) {
    case RES_DONE:
        progress_line(&r->prog, "convoy: migration %s applied", name);
        return;
    case RES_NOOP:
        progress_line(&r->prog, "convoy: %s", o->message);
        return;
    case RES_SUBMITTED:
        return;
    default:
        break;
    }
    if (o->message == NULL)
        return;
    if (o->step > 0 && o->line > 0)
        fprintf(stderr, "convoy: %s:%d: step %d failed: %s\n", r->file ? r->file : "?", o->line,
                o->step, o->message);
    else if (o->step > 0)
        fprintf(stderr, "convoy: step %d failed: %s\n", o->step, o->message);
    else
        fprintf(stderr, "convoy: %s\n", o->message);
    if (o->undone)
        fprintf(stderr, "  removed: %s\n", o->undone);
    if (o->kept)
        fprintf(stderr, "  still in place: %s\n", o->kept);
    if (o->status)
        fprintf(stderr, "  status: %s\n", o->status);
    if (o->fix)
        fprintf(stderr, "  fix: %s\n", o->fix);
}

json_t *
render_outcome_json(render_t *r, const char *name, const engine_outcome_t *o, int code)
{
    json_t *out = json_pack("{s:s, s:s, s:s, s:i}", "migration", name ? name : "", "result",
                            engine_result_name(o->result), "status", o->status ? o->status : "none",
                            "exit_code", code);
    json_object_set_new(out, "message", str_or_null(o->message));
    json_object_set_new(out, "fix", str_or_null(o->fix));
    json_object_set_new(out, "step", o->step ? json_integer(o->step) : json_null());
    json_object_set_new(out, "line", o->line ? json_integer(o->line) : json_null());
    json_object_set_new(out, "still_in_place", str_or_null(o->kept));
    json_object_set_new(out, "removed", str_or_null(o->undone));
    json_object_set_new(out, "notes", json_incref(r->notes));
    json_object_set_new(out, "steps", json_incref(r->steps));
    return out;
}

int
render_exit_code(engine_result_t r)
{
    switch (r) {
    case RES_DONE:
    case RES_NOOP:
    case RES_SUBMITTED:
        return EXIT_OK;
    case RES_REFUSED:
        return EXIT_REFUSED;
    case RES_BUSY:
    case RES_STILL_RUNNING:
        return EXIT_BUSY;
    case RES_LOCKED:
        return EXIT_LOCKED;
    case RES_BLOCKED:
        return EXIT_PRECONDITION;
    case RES_ABORTED:
    case RES_INTERRUPTED:
        return EXIT_ABORTED;
    case RES_NOT_FOUND:
        return EXIT_NOT_FOUND;
    default:
        return EXIT_ERROR;
    }
}
