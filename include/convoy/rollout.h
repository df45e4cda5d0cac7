/*
 * rollout.h: whether the application has moved on to a migration's app version, so that the
 * destructive contract phase may run (pure). The input is the fleet view the coordinators
 * keep in convoy.fleet; the caller turns the reasons into the contract gate's reasons.
 */
#ifndef CONVOY_ROLLOUT_H
#define CONVOY_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A fleet-view row older than this is not from a running coordinator. */
#define ROLLOUT_FRESH_MS 10000

typedef struct {
    const char *node;
    const char *state;   /* the fleet view's state: ok, left, unknown, db-error, ... */
    const char *version; /* NULL: not reported */
    int64_t since_ms;    /* how long it has reported `version` (-1: unknown) */
    int64_t seen_ms;     /* age of the row */
} rollout_node_t;

typedef struct {
    int n_reasons;
    char reasons[8][200]; /* the first few, for people */
    int n_on_version;     /* app nodes on the version for the whole hold */
    int n_left;           /* app nodes that left the fleet (ignored) */
} rollout_verdict_t;

/*
 * Decides for `version` and `hold_ms` over the cluster's app nodes. `any_fresh`: some row of
 * the cluster (any role) is fresh, i.e. a coordinator is running; a stale app row is then a
 * node no coordinator is configured with any more. Done when n_reasons == 0.
 */
void rollout_decide(const rollout_node_t *nodes,
                    size_t n,
                    bool any_fresh,
                    const char *version,
                    int64_t hold_ms,
                    rollout_verdict_t *out);

#endif
