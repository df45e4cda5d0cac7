/* lease.c: the migration lease with fencing token and crash-safe takeover. */
#include "convoy/lease.h"

#include "convoy/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

lease_result_t
lease_acquire(pg_t *pg, const char *migration, const char *holder, lease_t *out, char **holder_desc)
{
    char ttl[16];
    const char *p[3] = {migration, holder, ttl};
    PGresult *r = NULL;
    lease_result_t res = LEASE_ERROR;

    memset(out, 0, sizeof(*out));
    *holder_desc = NULL;
    snprintf(ttl, sizeof(ttl), "%d", LEASE_TTL_S);
    if (pg_run(pg,
               "INSERT INTO convoy.lease AS l (migration, holder, token, backend_pid, "
               "backend_start, expires_at) "
               "SELECT $1, $2, 1, pg_backend_pid(), a.backend_start, "
               "now() + make_interval(secs => $3::int) FROM pg_stat_activity a "
               "WHERE a.pid = pg_backend_pid() "
               "ON CONFLICT (migration) DO UPDATE SET holder = EXCLUDED.holder, "
               "token = l.token + 1, backend_pid = EXCLUDED.backend_pid, "
               "backend_start = EXCLUDED.backend_start, acquired_at = now(), "
               "expires_at = EXCLUDED.expires_at "
               "WHERE l.expires_at < now() OR NOT EXISTS (SELECT 1 FROM pg_stat_activity s "
               "WHERE s.pid = l.backend_pid AND s.backend_start = l.backend_start) "
               "RETURNING token",
               3, p, &r) != PG_OK)
        return LEASE_ERROR;
    if (PQntuples(r) == 1) {
        out->migration = xstrdup(migration);
        out->holder = xstrdup(holder);
        out->token = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        return LEASE_ACQUIRED;
    }
    PQclear(r);
    r = NULL;
    if (pg_run(pg,
               "SELECT holder, backend_pid, to_char(acquired_at, 'YYYY-MM-DD HH24:MI:SSOF'), "
               "to_char(expires_at, 'YYYY-MM-DD HH24:MI:SSOF') FROM convoy.lease "
               "WHERE migration = $1",
               1, p, &r) != PG_OK)
        return LEASE_ERROR;
    if (PQntuples(r) == 1) {
        *holder_desc = xasprintf("%s (database session pid %s, since %s, lease expires %s)",
                                 PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2),
                                 PQgetvalue(r, 0, 3));
        res = LEASE_BUSY;
    } else {
        *holder_desc = xstrdup("another convoy process (lease changed hands while checking)");
        res = LEASE_BUSY;
    }
    PQclear(r);
    return res;
}

bool
lease_renew(pg_t *pg, const lease_t *l)
{
    char tok[32];
    const char *p[2] = {l->migration, tok};
    PGresult *r = NULL;
    bool ok;

    snprintf(tok, sizeof(tok), "%lld", (long long)l->token);
    if (pg_run(pg, LEASE_RENEW_SQL(1, 2) " RETURNING 1", 2, p, &r) != PG_OK)
        return false;
    ok = PQntuples(r) == 1;
    PQclear(r);
    return ok;
}

void
lease_release(pg_t *pg, lease_t *l)
{
    char tok[32];
    const char *p[2] = {l->migration, tok};

    if (l->migration) {
        snprintf(tok, sizeof(tok), "%lld", (long long)l->token);
        pg_run(pg, "DELETE FROM convoy.lease WHERE migration = $1 AND token = $2::bigint", 2, p,
               NULL);
    }
    free(l->migration);
    free(l->holder);
    memset(l, 0, sizeof(*l));
}
