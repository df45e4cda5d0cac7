/*
 * lease.h: exactly one convoy process drives a migration.
 *
 * Liveness is a session-level advisory lock held by the driver's own database session:
 * the server releases it when that session ends (the process died, the connection
 * broke), whichever role or host the driver runs as, and no clock or TTL is involved, so
 * a statement that runs for hours keeps its lease. The lease row names the holder and
 * carries a fencing token drawn from a sequence: tokens never repeat, and every state
 * write checks the token (state.h) so a driver that lost its lease cannot write again.
 */
#ifndef CONVOY_LEASE_H
#define CONVOY_LEASE_H

#include "convoy/pg.h"

#include <stdint.h>

/* pg_try_advisory_lock(LEASE_LOCK_CLASS, lock_key): 'conv' in ASCII. */
#define LEASE_LOCK_CLASS 1668247158

typedef struct {
    char *migration;
    char *holder;
    int64_t token;
    int lock_key;
    char *previous; /* the holder before us when it never released (crashed), or NULL */
} lease_t;

typedef enum {
    LEASE_ACQUIRED,
    LEASE_BUSY,  /* held by a live session: *holder_desc says who */
    LEASE_ERROR, /* query failed */
} lease_result_t;

/* Needs the convoy schema (state_ensure_schema). */
lease_result_t lease_acquire(
    pg_t *pg, const char *migration, const char *holder, lease_t *out, char **holder_desc);
/* Records that the driver is still working (for status); false when the lease was lost. */
bool lease_renew(pg_t *pg, const lease_t *l);
/* Releases the lock and marks the row released; frees l. */
void lease_release(pg_t *pg, lease_t *l);
/* The database pid whose session holds the migration's lease, or 0 when none does. */
int lease_holder_pid(pg_t *pg, const char *migration);

#endif
