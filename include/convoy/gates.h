/*
 * gates.h: the deploy gates of a migration, evaluated from durable state. gates_evaluate()
 * is the one function that changes a gate: it follows dgate_edges[] and audits each change.
 *
 * expand opens when the migration is done (so every step was replayed on every replica
 * before the next ran, the backfill is complete, constraints are validated and indexes
 * built), every cache invalidation it queued is confirmed, and its latest verification
 * passed. contract opens when expand is open and every app agent reports the new version.
 */
#ifndef CONVOY_GATES_H
#define CONVOY_GATES_H

#include "convoy/fsm.h"
#include "convoy/pg.h"

#include <jansson.h>
#include <stdbool.h>

/* Evaluates and records the gate ("expand" or "contract"). *reasons: what holds it (owned). */
bool gates_evaluate(
    pg_t *pg, const char *name, const char *gate, dgate_state_t *state, json_t **reasons);

/*
 * The local deploy gate of an app version (convoy-agent gate wait): open when the expand gate
 * of every migration of `cluster` that is for `version` (-- convoy:app-version) is open, failed
 * when one failed, pending otherwise. No such migration: open, *n_migrations 0.
 */
bool gates_for_version(pg_t *pg,
                       const char *cluster,
                       const char *version,
                       dgate_state_t *state,
                       json_t **reasons,
                       int *n_migrations);

#endif
