/* render.h: engine events and outcomes rendered for people (stderr) or collected as JSON. */
#ifndef CONVOY_RENDER_H
#define CONVOY_RENDER_H

#include "convoy/engine.h"
#include "progress.h"

#include <jansson.h>

typedef struct {
    progress_t prog;
    const char *file;
    json_t *steps; /* step outcomes, for --json */
    json_t *notes; /* plan notes, for --json */
} render_t;

void render_init(render_t *r, const char *file, bool quiet);
void render_free(render_t *r);
/* An engine_events_t callback. */
void render_event(void *ud, const engine_event_t *e);
/* The final lines: what happened, what is still in place, what was removed, the fix. */
void render_outcome(render_t *r, const char *name, const engine_outcome_t *o);
/* The outcome as the JSON document apply/abort print with --json. */
json_t *render_outcome_json(render_t *r, const char *name, const engine_outcome_t *o, int code);
/* One exit code per outcome, the same for every command (docs/convoy.1.md). */
int render_exit_code(engine_result_t r);

#endif
