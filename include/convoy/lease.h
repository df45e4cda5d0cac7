/*
 * lease.h: one convoy process drives a migration at a time.
 *
 * The lease row names its holder, carries a fencing token that grows on every
 * takeover, and expires. It is stale, and taken over safely, when it expired or
 * when the holder's database session no longer exists (the holder crashed: the
 * server ends a session whose client is gone). Every batch and step renews it
 * with a token check, so a process that lost its lease stops before writing.
 */
#ifndef CONVOY_LEASE_H
#define CONVOY_LEASE_H

#include "convoy/pg.h"

#include <stdint.h>

#define LEASE_TTL_S 600

typedef struct {
    char *migration;
    char *holder;
    int64_t token;
} lease_t;

typedef enum {
    LEASE_ACQUIRED,
    LEASE_BUSY,  /* held by someone live: *holder_desc says who */
    LEASE_ERROR, /* query failed */
} lease_result_t;

lease_result_t lease_acquire(
    pg_t *pg, const char *migration, const char *holder, lease_t *out, char **holder_desc);
/* Renews; false when the lease was lost (another holder took over) or on error. */
bool lease_renew(pg_t *pg, const lease_t *l);
void lease_release(pg_t *pg, lease_t *l);
#define LEASE_STR_(x) #x
#define LEASE_STR(x)  LEASE_STR_(x)
/* Renews the lease named by parameter $M if it still carries token $T; usable inside a
 * caller's statement (the backfill batch renews it with its checkpoint). */
#define LEASE_RENEW_SQL(M, T)                                                                      \
    "UPDATE convoy.lease SET expires_at = now() + make_interval(secs => " LEASE_STR(               \
        LEASE_TTL_S) ") WHERE migration = $" #M " AND token = $" #T "::bigint"

#endif
