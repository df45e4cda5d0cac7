/*
 * state.h: durable migration state in the target database's `convoy` schema.
 *
 * convoy.migrations  one row per migration: checksum, status (fsm.h), settings, current step
 * convoy.steps       the planned steps (versioned JSON spec) and their outcome
 * convoy.backfill    the backfill checkpoint, advanced in each batch's transaction
 * convoy.audit       append-only log (UPDATE/DELETE/TRUNCATE raise)
 * convoy.lease       who drives a migration: holder, fencing token, advisory lock key
 *
 * Every write a driver makes checks its fencing token in the same statement through
 * convoy.fence(), which raises SQLSTATE CV001 when the token is no longer current: the
 * write and whatever it commits with (a DDL step, a backfill batch) roll back together.
 */
#ifndef CONVOY_STATE_H
#define CONVOY_STATE_H

#include "convoy/fsm.h"
#include "convoy/pg.h"
#include "convoy/plan.h"

#include <stdint.h>

#define STATE_SCHEMA_VERSION 10

typedef struct {
    char *name;
    char *checksum;
    mig_status_t status;
    int current_step;
    int n_steps;
} mig_row_t;

/* Creates or upgrades the schema if needed (serialised by an advisory lock). */
bool state_ensure_schema(pg_t *pg, char **err);
/*
 * As an administrator: creates (or upgrades) the convoy schema owned by the NOLOGIN role
 * convoy_owner, and lets `runner` (the role convoy runs as) use it, insert into the audit
 * log and read it, but never update, delete or truncate it, nor drop what enforces that.
 */
bool state_init_owner(pg_t *pg, const char *runner, char **err);
/* True when convoy.migrations exists. */
bool state_schema_exists(pg_t *pg);
/* Loads a migration row; *found false when absent. False on a query error. */
bool state_load_migration(pg_t *pg, const char *name, mig_row_t *out, bool *found);
void mig_row_free(mig_row_t *r);
/* Inserts the migration (status submitted), its settings and steps, and audits it. Fenced. */
bool state_create_migration(pg_t *pg,
                            const char *name,
                            const char *checksum,
                            const plan_t *plan,
                            int64_t token,
                            const char *file);
/* Records where a submitted migration comes from: its cluster and the file's text. Fenced. */
bool state_set_source(
    pg_t *pg, const char *name, int64_t token, const char *cluster, const char *source);
/* Records (reason) or clears (NULL) why the driver holds. Fenced. */
bool state_set_hold(pg_t *pg, const char *name, int64_t token, const char *reason);
/* Merges {key: value} into the migration's live overrides and audits it (operator). */
bool state_set_override(pg_t *pg, const char *name, const char *key, const char *value);
/* Queues Redis work (kind: bump, purge) in the outbox for the cache agents. Fenced. */
bool state_outbox_add(
    pg_t *pg, const char *name, int64_t token, const char *kind, char **keys, size_t n_keys);
/* Loads the stored steps and settings into plan (zeroed first). False with *err. */
bool state_load_plan(pg_t *pg, const char *name, plan_t *plan, char ***status_out, char **err);

/*
 * Records step n's (1-based) status (pending, running, done, failed, blocked), inside the
 * caller's transaction when there is one. Fenced by token.
 */
bool state_mark_step(pg_t *pg,
                     const char *name,
                     int64_t token,
                     int n,
                     const char *status,
                     int64_t duration_ms,
                     int64_t rows,
                     const char *error);
/* Forgets a backfill step's checkpoint, so it starts again from the first key. Fenced. */
bool state_reset_backfill(pg_t *pg, const char *name, int64_t token, int n);

typedef enum {
    TR_OK,
    TR_NO_EDGE, /* the lifecycle table has no such edge from the current status */
    TR_FENCED,  /* the token is no longer current: another driver took over */
    TR_MISSING, /* no such migration */
    TR_ERROR,
} transition_result_t;

/*
 * The one function that changes a migration's status: looks the edge up in fsm_edges[],
 * refuses one the table does not have, and writes the change and its audit row in one
 * statement, fenced by token (token 0: an operator edge, which is not fenced). *to gets the
 * new status (or the current one on TR_NO_EDGE).
 */
transition_result_t state_transition(pg_t *pg,
                                     const char *name,
                                     int64_t token,
                                     mig_event_t event,
                                     const char *detail,
                                     mig_status_t *to);
/* The migration's status; false when absent or on error. */
bool state_status(pg_t *pg, const char *name, mig_status_t *out);

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
    int64_t token; /* 0: none */
} audit_entry_t;

/* Appends to convoy.audit. The actor is set once per process with state_set_actor. */
bool state_audit(pg_t *pg, const audit_entry_t *e);
void state_set_actor(const char *actor);
const char *state_actor(void);

/* "convoy.fence($M, $T::bigint)": usable inside any fenced statement. */
#define STATE_STR_(x)   #x
#define STATE_STR(x)    STATE_STR_(x)
#define FENCE_SQL(M, T) "convoy.fence($" STATE_STR(M) ", $" STATE_STR(T) "::bigint)"

#endif
