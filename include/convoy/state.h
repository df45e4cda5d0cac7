/*
 * state.h: durable migration state in the target database's `convoy` schema.
 *
 * convoy.migrations  one row per migration: checksum, status, current step
 * convoy.steps       the planned steps (JSON spec) and their outcome
 * convoy.backfill    the backfill checkpoint, advanced in each batch's transaction
 * convoy.audit       append-only log (UPDATE/DELETE/TRUNCATE raise)
 * convoy.lease       who drives a migration: holder, fencing token, expiry
 */
#ifndef CONVOY_STATE_H
#define CONVOY_STATE_H

#include "convoy/pg.h"
#include "convoy/plan.h"

#include <stdint.h>

typedef struct {
    char *name;
    char *checksum;
    char *status; /* running, done, failed, aborting, aborted, blocked */
    int current_step;
    int n_steps;
} mig_row_t;

/* Creates the schema if needed (serialised by an advisory lock). */
bool state_ensure_schema(pg_t *pg, char **err);
/* True when convoy.migrations exists. */
bool state_schema_exists(pg_t *pg);
/* Loads a migration row; *found false when absent. False on a query error. */
bool state_load_migration(pg_t *pg, const char *name, mig_row_t *out, bool *found);
void mig_row_free(mig_row_t *r);
/* Inserts the migration and its steps in one transaction. */
bool state_create_migration(
    pg_t *pg, const char *name, const char *checksum, const plan_t *plan, const char *actor);
/* Loads the stored steps into plan->steps (plan otherwise zeroed). */
bool state_load_steps(pg_t *pg, const char *name, plan_t *plan, char ***status_out);
/* Records step n's (1-based) status; inside the caller's transaction when there is one. */
bool state_mark_step(pg_t *pg,
                     const char *name,
                     int n,
                     const char *status,
                     int64_t duration_ms,
                     int64_t rows,
                     const char *error);
/* The migration's status ("running", "aborting", ...), or NULL. Caller frees. */
char *state_status(pg_t *pg, const char *name);
bool state_set_status(pg_t *pg, const char *name, const char *status, const char *error);

typedef struct {
    const char *migration;
    int step; /* 0: none */
    const char *action;
    const char *sql;
    const char *locks;
    int64_t duration_ms; /* -1: none */
    int64_t rows;        /* -1: none */
    const char *outcome;
    const char *detail;
} audit_entry_t;

/* Appends to convoy.audit. The actor is set once per process with state_set_actor. */
bool state_audit(pg_t *pg, const audit_entry_t *e);
void state_set_actor(const char *actor);
const char *state_actor(void);

#endif
