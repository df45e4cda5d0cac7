/* rollout.c: has every app node run the new version long enough for the contract phase. */
#include "convoy/rollout.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void
reason(rollout_verdict_t *v, const char *fmt, ...)
{
    va_list ap;

    if (v->n_reasons < (int)(sizeof(v->reasons) / sizeof(v->reasons[0]))) {
        va_start(ap, fmt);
        vsnprintf(v->reasons[v->n_reasons], sizeof(v->reasons[0]), fmt, ap);
        va_end(ap);
    }
    v->n_reasons++;
}

void
rollout_decide(const rollout_node_t *nodes,
               size_t n,
               bool any_fresh,
               const char *version,
               int64_t hold_ms,
               rollout_verdict_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!any_fresh) {
        reason(out,
               "no coordinator has refreshed the fleet view in the last %d s: the app "
               "nodes' versions are unknown (is `convoy coordinator` running?)",
               ROLLOUT_FRESH_MS / 1000);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const rollout_node_t *a = &nodes[i];
        if (a->seen_ms > ROLLOUT_FRESH_MS)
            continue; /* no running coordinator is configured with it any more */
        if (strcmp(a->state, "left") == 0) {
            out->n_left++;
            continue;
        }
        if (strcmp(a->state, "ok") != 0) {
            reason(out, "app node %s is %s: cannot tell which version it runs", a->node, a->state);
        } else if (a->version == NULL || strcmp(a->version, version) != 0) {
            reason(out, "app node %s runs %s, not %s", a->node, a->version ? a->version : "?",
                   version);
        } else if (a->since_ms < 0 || a->since_ms < hold_ms) {
            reason(out, "app node %s has run %s for %.1f s of %.1f s", a->node, version,
                   a->since_ms < 0 ? 0.0 : (double)a->since_ms / 1000.0, (double)hold_ms / 1000.0);
        } else {
            out->n_on_version++;
        }
    }
    if (out->n_reasons == 0 && out->n_on_version == 0)
        reason(out, "no app node reports %s yet", version);
}
