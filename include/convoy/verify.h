/*
 * verify.h: `convoy verify`: checks what a finished migration left, on the primary and on
 * each replica, records the result in convoy.verifications and audits it. The expand gate
 * opens only after a verification passed.
 */
#ifndef CONVOY_VERIFY_H
#define CONVOY_VERIFY_H

#include "convoy/pg.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *conninfo; /* the primary */
    const char *name;
    const char *actor;
    const char *file; /* the file, when the migration's text is not stored (one-shot apply) */
    const char *const *replica_names;
    const char *const *replica_conninfos;
    size_t n_replicas;
    int sample; /* rows recomputed for an immutable backfill expression (0: 1000) */
} verify_req_t;

/*
 * True when the checks ran: *passed says whether all held, *checks is the list
 * [{node, check, ok, detail}] (the caller frees it). False with *err when they could not run.
 */
bool engine_verify(const verify_req_t *req, bool *passed, json_t **checks, char **err);

#endif
