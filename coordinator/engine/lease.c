/* lease.c: the migration lease: an advisory lock for liveness, a sequence for tokens. */
#include "convoy/lease.h"

#include "convoy/runctl.h"
#include "convoy/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOCK_CLASS_SQL "1668247158"

static char *
describe_holder(pg_t *pg, const char *migration)
{
    const char *p[1] = {migration};
    PGresult *r = NULL;
    char *desc;

    /* A holder that has just taken the lock records itself a moment later: wait for it. */
    for (int attempt = 0;; attempt++) {
        if (pg_run(pg,
                   "SELECT coalesce(l.holder, 'an unknown convoy'), k.pid, "
                   "to_char(l.acquired_at, 'YYYY-MM-DD HH24:MI:SSOF'), "
                   "coalesce(round(extract(epoch FROM now() - l.renewed_at))::text, '?'), "
                   "l.backend_pid IS NOT DISTINCT FROM k.pid "
                   "FROM convoy.lease l LEFT JOIN pg_locks k ON k.locktype = 'advisory' AND "
                   "k.classid = " LOCK_CLASS_SQL " AND k.objid = l.lock_key AND k.objsubid = 2 "
                   "AND k.granted WHERE l.migration = $1",
                   1, p, &r) != PG_OK ||
            PQntuples(r) == 0) {
            PQclear(r);
            return xstrdup("another convoy process");
        }
        if (PQgetvalue(r, 0, 4)[0] == 't' || attempt >= 20)
            break;
        PQclear(r);
        r = NULL;
        run_ctl_sleep(NULL, 25);
    }
    desc = xasprintf("%s (database session pid %s, since %s, last progress %s s ago)",
                     PQgetvalue(r, 0, 0), PQgetisnull(r, 0, 1) ? "?" : PQgetvalue(r, 0, 1),
                     PQgetisnull(r, 0, 2) ? "?" : PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3));
    PQclear(r);
    return desc;
}

lease_result_t
lease_acquire(pg_t *pg, const char *migration, const char *holder, lease_t *out, char **holder_desc)
{
    const char *p[2] = {migration, holder};
    PGresult *r = NULL;
    char *key, *got;
    const char *kp[1];

    memset(out, 0, sizeof(*out));
    *holder_desc = NULL;
    /* Only when there is no row yet: an INSERT ... ON CONFLICT that meets the row waits for
     * any transaction that has updated it, and a holder stalled (SIGSTOP) inside a batch's
     * transaction would then hold this process forever instead of answering "busy". */
    if (pg_run(pg,
               "INSERT INTO convoy.lease (migration) SELECT $1 WHERE NOT EXISTS (SELECT 1 FROM "
               "convoy.lease WHERE migration = $1) ON CONFLICT DO NOTHING",
               1, p, NULL) != PG_OK)
        return LEASE_ERROR;
    key = pg_value(pg, "SELECT lock_key::text FROM convoy.lease WHERE migration = $1", 1, p);
    if (key == NULL)
        return LEASE_ERROR;
    kp[0] = key;
    got = pg_value(pg, "SELECT pg_try_advisory_lock(" LOCK_CLASS_SQL ", $1::int)", 1, kp);
    if (got == NULL || got[0] != 't') {
        bool err = got == NULL;
        free(got);
        free(key);
        if (err)
            return LEASE_ERROR;
        *holder_desc = describe_holder(pg, migration);
        return LEASE_BUSY;
    }
    free(got);
    /* Ours now: every earlier holder's session has ended. */
    if (pg_run(pg,
               "WITH old AS (SELECT holder, released_at FROM convoy.lease WHERE migration = $1) "
               "UPDATE convoy.lease SET token = nextval('convoy.fencing_token'), holder = $2, "
               "backend_pid = pg_backend_pid(), acquired_at = now(), renewed_at = now(), "
               "released_at = NULL WHERE migration = $1 RETURNING token, "
               "(SELECT CASE WHEN old.released_at IS NULL THEN old.holder END FROM old)",
               2, p, &r) != PG_OK ||
        PQntuples(r) != 1) {
        PQclear(r);
        pg_run(pg, "SELECT pg_advisory_unlock(" LOCK_CLASS_SQL ", $1::int)", 1, kp, NULL);
        free(key);
        return LEASE_ERROR;
    }
    out->migration = xstrdup(migration);
    out->holder = xstrdup(holder);
    out->token = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    out->lock_key = (int)strtol(key, NULL, 10);
    out->previous = PQgetisnull(r, 0, 1) ? NULL : xstrdup(PQgetvalue(r, 0, 1));
    PQclear(r);
    free(key);
    return LEASE_ACQUIRED;
}

bool
lease_renew(pg_t *pg, const lease_t *l)
{
    char tok[32];
    const char *p[2] = {l->migration, tok};
    PGresult *r = NULL;
    bool ok;

    snprintf(tok, sizeof(tok), "%lld", (long long)l->token);
    if (pg_run(pg,
               "UPDATE convoy.lease SET renewed_at = now() WHERE migration = $1 AND "
               "token = $2::bigint RETURNING 1",
               2, p, &r) != PG_OK)
        return false;
    ok = PQntuples(r) == 1;
    PQclear(r);
    return ok;
}

void
lease_release(pg_t *pg, lease_t *l)
{
    char tok[32], key[16];
    const char *p[2] = {l->migration, tok};
    const char *kp[1] = {key};

    if (l->migration && pg) {
        snprintf(tok, sizeof(tok), "%lld", (long long)l->token);
        snprintf(key, sizeof(key), "%d", l->lock_key);
        pg_run(pg,
               "UPDATE convoy.lease SET released_at = now() WHERE migration = $1 AND "
               "token = $2::bigint",
               2, p, NULL);
        pg_run(pg, "SELECT pg_advisory_unlock(" LOCK_CLASS_SQL ", $1::int)", 1, kp, NULL);
    }
    free(l->migration);
    free(l->holder);
    free(l->previous);
    memset(l, 0, sizeof(*l));
}

int
lease_holder_pid(pg_t *pg, const char *migration)
{
    const char *p[1] = {migration};
    char *v = pg_value(pg,
                       "SELECT k.pid FROM convoy.lease l JOIN pg_locks k ON k.locktype = "
                       "'advisory' AND k.classid = " LOCK_CLASS_SQL " AND k.objid = l.lock_key "
                       "AND k.objsubid = 2 AND k.granted WHERE l.migration = $1",
                       1, p);
    int pid = v ? (int)strtol(v, NULL, 10) : 0;
    free(v);
    return pid;
}
