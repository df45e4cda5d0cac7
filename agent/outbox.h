/*
 * outbox.h: the cache agent's worker on convoy.invalidations (docs/fleet.md, "Cache
 * invalidation (Redis)").
 *
 * One batch (outbox_run) is one transaction on the primary: claim up to OUTBOX_BATCH
 * pending rows FOR UPDATE SKIP LOCKED (so two cache agents never work one row at once): the
 * key rows' first passes when any are due, else the other rows; do their Redis work
 * (cache.h), record it, COMMIT. Key rows get two passes, second_pass
 * apart (first_at, then confirmed_at); bump and purge rows are confirmed once done. A purge
 * is rate-limited (purge_rate SCAN calls a second at most) and may take several batches: its
 * SCAN cursor is kept in memory between them (a restart scans again from the start, which
 * is only repeated work). On a Redis error the claim is rolled back, the rows' attempts and
 * last_error are recorded, and Redis is retried after a backoff; the rows stay pending.
 */
#ifndef CONVOY_AGENT_OUTBOX_H
#define CONVOY_AGENT_OUTBOX_H

#include "config.h"
#include "convoy/pg.h"
#include "convoy/wire.h"

#include <stdbool.h>
#include <stdint.h>

#define OUTBOX_BATCH    50 /* rows claimed a batch */
/* The channel the schema's outbox_notify trigger (coordinator/engine/state.c) notifies on
 * each write to convoy.invalidations; the worker LISTENs on it. */
#define OUTBOX_CHANNEL  "convoy_outbox"
#define OUTBOX_PURGE_MS 200 /* a batch's purge work stops after this long (the rest: later) */

typedef struct outbox outbox_t;

/* For role = cache: the Redis target and the knobs come from cfg (not kept). */
outbox_t *outbox_new(const agent_config_t *cfg);
void outbox_free(outbox_t *o);
/* A reloaded config (role = cache still): new knobs; target: a new Redis URL or password,
 * reconnect. */
void outbox_reconfigure(outbox_t *o, const agent_config_t *cfg, bool target);

/*
 * One batch. pg may be NULL (no database: only the Redis connection is kept up). *table says
 * whether convoy.invalidations exists (from the last report; set false here when it has gone):
 * without it nothing happens. tick: called on the heartbeat tick, so an idle Redis is
 * PINGed (redis_ok stays true only while Redis answers). *next_at gets the earliest
 * monotonic time the worker wants to run again before the next tick: now when it found
 * work, later while a purge waits for its rate or Redis for its backoff, INT64_MAX for the
 * next tick. Returns the status of the database (PG_OK also when Redis failed).
 */
pg_status_t
outbox_run(outbox_t *o, pg_t *pg, bool *table, int64_t now, bool tick, int64_t *next_at);

/* redis_ok, redis_error and cache_confirmed into a report (redis_error is replaced). */
void outbox_report(const outbox_t *o, Convoy__Wire__Report *r);

#endif
