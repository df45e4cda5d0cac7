/*
 * metrics.h: what an agent measures on its own database, as wire messages.
 *
 * Each function runs its SQL over a pg_t and fills a protobuf message; nothing here knows
 * about sockets or the loop. Every value comes from the database: when a query fails, the
 * report holds only the role, db_ok = false and the error (it fails closed).
 */
#ifndef CONVOY_AGENT_METRICS_H
#define CONVOY_AGENT_METRICS_H

#include "config.h"
#include "convoy/pg.h"
#include "convoy/wire.h"

#include <stdbool.h>
#include <stdint.h>

/* What one sample remembers for the next. Reset it on every new connection. */
typedef struct {
    bool heartbeat_table;     /* the last sample saw convoy.heartbeat: read it in the same query */
    bool invalidations_table; /* cache: the last sample saw convoy.invalidations */
    bool have_prev;           /* primary: the previous current_lsn, for wal_bytes_per_s */
    uint64_t prev_lsn;
    int64_t prev_ms;
} metrics_state_t;

void metrics_state_reset(metrics_state_t *st);

/* A report with the role, db_ok = false, heartbeat_seq = -1, wal_bytes_per_s = -1,
 * redis_ok = false, redis_error = "", app_version = "" and, for role = app,
 * app_error_rate = -1. */
void metrics_report_init(Convoy__Wire__Report *r, agent_role_t role);
/* Frees what metrics_report_init and metrics_sample allocated; r is then empty. */
void metrics_report_clear(Convoy__Wire__Report *r);
/* Back to metrics_report_init's state, with db_error = err (one line). */
void metrics_report_fail(Convoy__Wire__Report *r, agent_role_t role, const char *err);

/*
 * One sample in one round trip (two when convoy.heartbeat has just appeared or gone; for
 * role = cache, convoy.invalidations: its unconfirmed rows are cache_pending; for role = app,
 * only `SELECT 1`: db_ok).
 * now_ms is the monotonic time of the sample (for wal_bytes_per_s). r must come from
 * metrics_report_init. Returns the status of the query; on anything but PG_OK (and when the
 * server does not fit the role) r is a failed report.
 */
pg_status_t metrics_sample(
    pg_t *pg, agent_role_t role, metrics_state_t *st, int64_t now_ms, Convoy__Wire__Report *r);

/* The position wait_lsn compares with (replay_lsn on a replica, current_lsn on a primary);
 * false when the report does not know it. */
bool metrics_report_position(const Convoy__Wire__Report *r, agent_role_t role, uint64_t *lsn);
/* The same position, read now. *known false when the server has none (NULL). */
pg_status_t metrics_position(pg_t *pg, agent_role_t role, uint64_t *lsn, bool *known);

/*
 * The sessions holding a granted lock on `table` (text, resolved by to_regclass on the
 * server) in this database, except the agent's own. Fills res->ok, message and readers
 * (res->id is the caller's). On a query error res->ok is false with the error.
 */
pg_status_t metrics_readers(pg_t *pg, const char *table, Convoy__Wire__Result *res);
/* Frees what metrics_readers allocated (message, readers). */
void metrics_result_clear(Convoy__Wire__Result *res);

/* Copies s with control characters (newlines, tabs) folded into single spaces. */
char *metrics_one_line(const char *s);

#endif
