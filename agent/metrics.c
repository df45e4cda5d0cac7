/*
 * metrics.c: the SQL behind each REPORT and RESULT (see metrics.h and docs/fleet.md).
 *
 * One report is one SELECT: every scalar in one row, the primary's pg_stat_replication
 * peers as extra rows of the same result (LEFT JOIN, so a primary without standbys still
 * returns its row). convoy.heartbeat may or may not exist on a node; a statement naming a
 * missing table fails at parse time whatever guards it, so the query comes in two shapes,
 * with and without the heartbeat subquery, and to_regclass('convoy.heartbeat') in both tells
 * which one the next sample needs (a second round trip only when the table appears or goes).
 */
#include "metrics.h"

#include "convoy/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PEERS   512
#define MAX_READERS 1024

/* ---- reports --------------------------------------------------------------------- */

void
metrics_state_reset(metrics_state_t *st)
{
    memset(st, 0, sizeof(*st));
}

void
metrics_report_init(Convoy__Wire__Report *r, agent_role_t role)
{
    convoy__wire__report__init(r);
    r->role = xstrdup(agent_role_name(role));
    r->db_ok = false;
    r->db_error = xstrdup("");
    r->heartbeat_seq = -1;
    r->wal_bytes_per_s = -1;
    r->redis_ok = false;
    r->redis_error = xstrdup("");
    r->app_version = xstrdup("");
    r->app_error_rate = role == AGENT_APP ? -1 : 0;
}

static void
free_peer(Convoy__Wire__ReplicationPeer *p)
{
    if (p == NULL)
        return;
    free(p->application_name);
    free(p->client_addr);
    free(p->state);
    free(p);
}

void
metrics_report_clear(Convoy__Wire__Report *r)
{
    free(r->role);
    free(r->db_error);
    free(r->redis_error);
    free(r->app_version);
    free(r->conflicts);
    for (size_t i = 0; i < r->n_peers; i++)
        free_peer(r->peers[i]);
    free(r->peers);
    convoy__wire__report__init(r);
    r->role = NULL;
    r->db_error = NULL;
    r->redis_error = NULL;
    r->app_version = NULL;
}

char *
metrics_one_line(const char *s)
{
    sb_t sb;
    bool space = false;

    sb_init(&sb);
    sb_puts(&sb, "");
    for (const char *p = s ? s : ""; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            space = sb.len > 0;
            continue;
        }
        if (space)
            sb_putc(&sb, ' ');
        space = false;
        sb_putc(&sb, *p);
    }
    return sb_steal(&sb);
}

void
metrics_report_fail(Convoy__Wire__Report *r, agent_role_t role, const char *err)
{
    metrics_report_clear(r);
    metrics_report_init(r, role);
    free(r->db_error);
    r->db_error = metrics_one_line(err && *err ? err : "unknown database error");
}

/* ---- columns: a NULL is "unknown", a text that does not parse is an error ------------ */

static bool
col_null(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) != 0;
}

static bool
col_bool(const PGresult *res, int row, int col, bool *out)
{
    const char *v = PQgetvalue(res, row, col);

    *out = false;
    if (col_null(res, row, col))
        return true;
    if (strcmp(v, "t") != 0 && strcmp(v, "f") != 0)
        return false;
    *out = v[0] == 't';
    return true;
}

static bool
col_lsn(const PGresult *res, int row, int col, uint64_t *out)
{
    *out = 0;
    return col_null(res, row, col) || wire_lsn_parse(PQgetvalue(res, row, col), out);
}

static bool
col_int64(const PGresult *res, int row, int col, int64_t min, int64_t max, int64_t *out)
{
    return parse_int64(PQgetvalue(res, row, col), min, max, out);
}

static bool
col_u64(const PGresult *res, int row, int col, uint64_t *out)
{
    int64_t v = 0;

    *out = 0;
    if (col_null(res, row, col))
        return true;
    if (!col_int64(res, row, col, 0, INT64_MAX, &v))
        return false;
    *out = (uint64_t)v;
    return true;
}

static bool
col_double(const PGresult *res, int row, int col, double if_null, double *out)
{
    const char *v = PQgetvalue(res, row, col);
    char *end;

    *out = if_null;
    if (col_null(res, row, col))
        return true;
    *out = strtod(v, &end);
    return end != v && *end == '\0' && isfinite(*out);
}

static char *
col_text(const PGresult *res, int row, int col)
{
    return xstrdup(col_null(res, row, col) ? "" : PQgetvalue(res, row, col));
}

static pg_status_t
bad_value(Convoy__Wire__Report *r, agent_role_t role, const PGresult *res, int col)
{
    char *msg = xasprintf("unexpected value `%s` in column %d (%s) of the report query",
                          PQgetvalue(res, 0, col), col + 1, PQfname(res, col));
    metrics_report_fail(r, role, msg);
    free(msg);
    return PG_ERROR;
}

/* ---- replica --------------------------------------------------------------------- */

#define REPLICA_SQL(HEARTBEAT)                                                                     \
    "SELECT pg_is_in_recovery() AS in_recovery,"                                                   \
    " CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END AS replay_paused,"          \
    " pg_last_wal_receive_lsn() AS receive_lsn,"                                                   \
    " pg_last_wal_replay_lsn() AS replay_lsn,"                                                     \
    " to_regclass('convoy.heartbeat') IS NOT NULL AS heartbeat_table,"                             \
    " " HEARTBEAT " AS heartbeat_seq,"                                                             \
    " c.confl_tablespace, c.confl_lock, c.confl_snapshot, c.confl_bufferpin, c.confl_deadlock"     \
    " FROM (SELECT 1) AS one"                                                                      \
    " LEFT JOIN pg_stat_database_conflicts AS c ON c.datname = current_database()"

static const char replica_sql_heartbeat[] =
    REPLICA_SQL("(SELECT h.seq FROM convoy.heartbeat AS h WHERE h.id = 1)");
static const char replica_sql_plain[] = REPLICA_SQL("NULL::bigint");

static pg_status_t
sample_replica(pg_t *pg, metrics_state_t *st, Convoy__Wire__Report *r)
{
    PGresult *res = NULL;
    pg_status_t s = PG_OK;
    bool with = false, exists = false;
    int64_t seq = -1;

    for (int attempt = 0; attempt < 2; attempt++) {
        with = st->heartbeat_table;
        s = pg_run(pg, with ? replica_sql_heartbeat : replica_sql_plain, 0, NULL, &res);
        if (s != PG_OK) {
            /* the table went away since the last sample: ask again without it */
            if (with && attempt == 0 && strcmp(pg_sqlstate(pg), "42P01") == 0) {
                st->heartbeat_table = false;
                continue;
            }
            metrics_report_fail(r, AGENT_REPLICA, pg_errmsg(pg));
            return s;
        }
        if (PQntuples(res) != 1 || PQnfields(res) != 11) {
            PQclear(res);
            metrics_report_fail(r, AGENT_REPLICA, "the report query returned an unexpected shape");
            return PG_ERROR;
        }
        if (!col_bool(res, 0, 4, &exists)) {
            s = bad_value(r, AGENT_REPLICA, res, 4);
            PQclear(res);
            return s;
        }
        st->heartbeat_table = exists;
        if (exists == with || attempt == 1)
            break;
        PQclear(res); /* the table appeared: read its seq in this same report */
        res = NULL;
    }

    {
        bool in_recovery = false, paused = false;
        uint64_t receive = 0, replay = 0;
        uint64_t confl[5] = {0};
        int bad = -1;

        if (!col_bool(res, 0, 0, &in_recovery))
            bad = 0;
        else if (!col_bool(res, 0, 1, &paused))
            bad = 1;
        else if (!col_lsn(res, 0, 2, &receive))
            bad = 2;
        else if (!col_lsn(res, 0, 3, &replay))
            bad = 3;
        else if (with && exists && !col_null(res, 0, 5) &&
                 !col_int64(res, 0, 5, INT64_MIN, INT64_MAX, &seq))
            bad = 5;
        for (int i = 0; i < 5 && bad < 0; i++)
            if (!col_u64(res, 0, 6 + i, &confl[i]))
                bad = 6 + i;
        if (bad >= 0) {
            s = bad_value(r, AGENT_REPLICA, res, bad);
            PQclear(res);
            return s;
        }
        r->db_ok = true;
        r->in_recovery = in_recovery;
        r->replay_paused = in_recovery && paused;
        r->receive_lsn = receive;
        r->replay_lsn = replay;
        r->heartbeat_seq = with && exists && !col_null(res, 0, 5) ? seq : -1;
        if (!col_null(res, 0, 6)) { /* no row for this database: no counters, not zeros */
            r->conflicts = xmalloc(sizeof(*r->conflicts));
            convoy__wire__conflict_counters__init(r->conflicts);
            r->conflicts->tablespace = confl[0];
            r->conflicts->lock = confl[1];
            r->conflicts->snapshot = confl[2];
            r->conflicts->bufferpin = confl[3];
            r->conflicts->deadlock = confl[4];
        }
    }
    PQclear(res);
    return PG_OK;
}

/* ---- primary --------------------------------------------------------------------- */

static const char primary_sql[] =
    "SELECT s.in_recovery, s.current_lsn, s.active, s.waiting,"
    " r.application_name, host(r.client_addr) AS client_addr, r.state,"
    " r.sent_lsn, r.replay_lsn, extract(epoch FROM r.replay_lag)::float8 AS replay_lag_s,"
    " s.commits, s.rollbacks, s.deadlocks"
    " FROM (SELECT pg_is_in_recovery() AS in_recovery,"
    "  CASE WHEN NOT pg_is_in_recovery() THEN pg_current_wal_lsn() END AS current_lsn,"
    "  (SELECT count(*) FROM pg_stat_activity AS a"
    "    WHERE a.state = 'active' AND a.backend_type = 'client backend'"
    "    AND a.pid <> pg_backend_pid()) AS active,"
    "  (SELECT count(*) FROM pg_stat_activity AS a WHERE a.wait_event_type = 'Lock') AS waiting,"
    /* the application's health as the server counts it (every database) */
    "  (SELECT coalesce(sum(xact_commit), 0) FROM pg_stat_database) AS commits,"
    "  (SELECT coalesce(sum(xact_rollback), 0) FROM pg_stat_database) AS rollbacks,"
    "  (SELECT coalesce(sum(deadlocks), 0) FROM pg_stat_database) AS deadlocks"
    " ) AS s"
    " LEFT JOIN pg_stat_replication AS r ON true"
    " ORDER BY r.application_name, r.pid";

static pg_status_t
sample_primary(pg_t *pg, metrics_state_t *st, int64_t now_ms, Convoy__Wire__Report *r)
{
    PGresult *res = NULL;
    pg_status_t s = pg_run(pg, primary_sql, 0, NULL, &res);
    bool in_recovery;
    uint64_t lsn;
    int64_t active, waiting, commits, rollbacks, deadlocks;
    int rows, bad = -1;

    if (s != PG_OK) {
        metrics_report_fail(r, AGENT_PRIMARY, pg_errmsg(pg));
        return s;
    }
    rows = PQntuples(res);
    if (rows < 1 || PQnfields(res) != 13) {
        PQclear(res);
        metrics_report_fail(r, AGENT_PRIMARY, "the report query returned an unexpected shape");
        return PG_ERROR;
    }
    if (!col_bool(res, 0, 0, &in_recovery))
        bad = 0;
    else if (!col_lsn(res, 0, 1, &lsn))
        bad = 1;
    else if (!col_int64(res, 0, 2, 0, UINT32_MAX, &active))
        bad = 2;
    else if (!col_int64(res, 0, 3, 0, UINT32_MAX, &waiting))
        bad = 3;
    else if (!col_int64(res, 0, 10, 0, INT64_MAX, &commits))
        bad = 10;
    else if (!col_int64(res, 0, 11, 0, INT64_MAX, &rollbacks))
        bad = 11;
    else if (!col_int64(res, 0, 12, 0, INT64_MAX, &deadlocks))
        bad = 12;
    if (bad >= 0) {
        s = bad_value(r, AGENT_PRIMARY, res, bad);
        PQclear(res);
        return s;
    }
    if (in_recovery) {
        PQclear(res);
        metrics_report_fail(r, AGENT_PRIMARY,
                            "role = primary, but the server is in recovery (a standby): fix "
                            "role or conninfo in the agent config");
        r->in_recovery = true;
        st->have_prev = false;
        return PG_ERROR;
    }

    r->peers = xcalloc((size_t)(rows < MAX_PEERS ? rows : MAX_PEERS), sizeof(*r->peers));
    for (int i = 0; i < rows && r->n_peers < MAX_PEERS; i++) {
        Convoy__Wire__ReplicationPeer *p;
        uint64_t sent, replay;
        double lag;

        if (col_null(res, i, 6) && col_null(res, i, 4)) /* the LEFT JOIN's row: no peers */
            continue;
        if (!col_lsn(res, i, 7, &sent) || !col_lsn(res, i, 8, &replay) ||
            !col_double(res, i, 9, -1, &lag)) {
            s = bad_value(r, AGENT_PRIMARY, res, 7);
            PQclear(res);
            return s;
        }
        p = xmalloc(sizeof(*p));
        convoy__wire__replication_peer__init(p);
        p->application_name = col_text(res, i, 4);
        p->client_addr = col_text(res, i, 5);
        p->state = col_text(res, i, 6);
        p->sent_lsn = sent;
        p->replay_lsn = replay;
        p->replay_lag_s = lag;
        r->peers[r->n_peers++] = p;
    }
    PQclear(res);

    r->db_ok = true;
    r->in_recovery = false;
    r->current_lsn = lsn;
    r->active_backends = (uint32_t)active;
    r->waiting_backends = (uint32_t)waiting;
    r->xact_commit = (uint64_t)commits;
    r->xact_rollback = (uint64_t)rollbacks;
    r->deadlocks = (uint64_t)deadlocks;
    /* a rate needs two samples on the same server: -1 (unknown) until then */
    r->wal_bytes_per_s = -1;
    if (st->have_prev && now_ms > st->prev_ms && lsn >= st->prev_lsn)
        r->wal_bytes_per_s = (double)(lsn - st->prev_lsn) * 1000.0 / (double)(now_ms - st->prev_ms);
    st->have_prev = true;
    st->prev_lsn = lsn;
    st->prev_ms = now_ms;
    return PG_OK;
}

/* ---- cache ----------------------------------------------------------------------- */

/* The outbox lives on the primary; a statement naming a missing table fails at parse time,
 * so two shapes again, like the replica's heartbeat. The count uses the partial index
 * invalidations_pending. */
#define CACHE_SQL(PENDING)                                                                         \
    "SELECT pg_is_in_recovery() AS in_recovery,"                                                   \
    " to_regclass('convoy.invalidations') IS NOT NULL AS invalidations_table,"                     \
    " " PENDING " AS pending"

static const char cache_sql_table[] =
    CACHE_SQL("(SELECT count(*) FROM convoy.invalidations AS i WHERE i.confirmed_at IS NULL)");
static const char cache_sql_plain[] = CACHE_SQL("NULL::bigint");

static pg_status_t
sample_cache(pg_t *pg, metrics_state_t *st, Convoy__Wire__Report *r)
{
    PGresult *res = NULL;
    pg_status_t s = PG_OK;
    bool with = false, exists = false, in_recovery = false;
    uint64_t pending = 0;

    for (int attempt = 0; attempt < 2; attempt++) {
        with = st->invalidations_table;
        s = pg_run(pg, with ? cache_sql_table : cache_sql_plain, 0, NULL, &res);
        if (s != PG_OK) {
            if (with && attempt == 0 && strcmp(pg_sqlstate(pg), "42P01") == 0) {
                st->invalidations_table = false;
                continue;
            }
            st->invalidations_table = false;
            metrics_report_fail(r, AGENT_CACHE, pg_errmsg(pg));
            return s;
        }
        if (PQntuples(res) != 1 || PQnfields(res) != 3) {
            PQclear(res);
            st->invalidations_table = false;
            metrics_report_fail(r, AGENT_CACHE, "the report query returned an unexpected shape");
            return PG_ERROR;
        }
        if (!col_bool(res, 0, 1, &exists)) {
            s = bad_value(r, AGENT_CACHE, res, 1);
            PQclear(res);
            st->invalidations_table = false;
            return s;
        }
        st->invalidations_table = exists;
        if (exists == with || attempt == 1)
            break;
        PQclear(res); /* the table appeared: count its rows in this same report */
        res = NULL;
    }
    if (!col_bool(res, 0, 0, &in_recovery) || !col_u64(res, 0, 2, &pending)) {
        s = bad_value(r, AGENT_CACHE, res, col_bool(res, 0, 0, &in_recovery) ? 2 : 0);
        PQclear(res);
        st->invalidations_table = false;
        return s;
    }
    PQclear(res);
    if (in_recovery) {
        metrics_report_fail(r, AGENT_CACHE,
                            "role = cache, but the server is in recovery (a standby): conninfo "
                            "must be the primary's, where the outbox convoy.invalidations lives");
        r->in_recovery = true;
        st->invalidations_table = false; /* no outbox work on a standby */
        return PG_ERROR;
    }
    r->db_ok = true;
    r->in_recovery = false;
    r->cache_pending = with && exists ? pending : 0;
    return PG_OK;
}

/* ---- app ------------------------------------------------------------------------- */

/* An app agent's database (when it has one) only answers: db_ok is all it reports. */
static pg_status_t
sample_app(pg_t *pg, Convoy__Wire__Report *r)
{
    PGresult *res = NULL;
    pg_status_t s = pg_run(pg, "SELECT 1", 0, NULL, &res);

    if (s != PG_OK) {
        metrics_report_fail(r, AGENT_APP, pg_errmsg(pg));
        return s;
    }
    if (PQntuples(res) != 1 || PQnfields(res) != 1) {
        PQclear(res);
        metrics_report_fail(r, AGENT_APP, "the report query returned an unexpected shape");
        return PG_ERROR;
    }
    PQclear(res);
    r->db_ok = true;
    return PG_OK;
}

pg_status_t
metrics_sample(
    pg_t *pg, agent_role_t role, metrics_state_t *st, int64_t now_ms, Convoy__Wire__Report *r)
{
    if (pg == NULL) {
        metrics_report_fail(r, role, "not connected to the database");
        return PG_CONN_LOST;
    }
    if (role == AGENT_CACHE)
        return sample_cache(pg, st, r);
    if (role == AGENT_APP)
        return sample_app(pg, r);
    return role == AGENT_PRIMARY ? sample_primary(pg, st, now_ms, r) : sample_replica(pg, st, r);
}

bool
metrics_report_position(const Convoy__Wire__Report *r, agent_role_t role, uint64_t *lsn)
{
    uint64_t v = role == AGENT_PRIMARY ? r->current_lsn : r->replay_lsn;

    if (!r->db_ok || v == 0 || role == AGENT_CACHE || role == AGENT_APP)
        return false;
    *lsn = v;
    return true;
}

pg_status_t
metrics_position(pg_t *pg, agent_role_t role, uint64_t *lsn, bool *known)
{
    const char *sql = role == AGENT_PRIMARY
                          ? "SELECT CASE WHEN NOT pg_is_in_recovery() THEN pg_current_wal_lsn() END"
                          : "SELECT pg_last_wal_replay_lsn()";
    PGresult *res = NULL;
    pg_status_t s;

    *known = false;
    *lsn = 0;
    if (pg == NULL)
        return PG_CONN_LOST;
    s = pg_run(pg, sql, 0, NULL, &res);
    if (s != PG_OK)
        return s;
    if (PQntuples(res) == 1 && !col_null(res, 0, 0) && col_lsn(res, 0, 0, lsn))
        *known = *lsn != 0;
    PQclear(res);
    return PG_OK;
}

/* ---- readers --------------------------------------------------------------------- */

static const char readers_sql[] =
    "SELECT t.rel IS NULL AS missing, r.pid, r.usename, r.age_s, r.state, r.query"
    " FROM (SELECT to_regclass($1::text) AS rel) AS t"
    " LEFT JOIN LATERAL ("
    "  SELECT DISTINCT a.pid, a.usename::text AS usename,"
    "   extract(epoch FROM now() - coalesce(a.query_start, a.xact_start))::float8 AS age_s,"
    "   a.state, left(a.query, 200) AS query"
    "  FROM pg_locks AS l JOIN pg_stat_activity AS a ON a.pid = l.pid"
    "  WHERE l.locktype = 'relation' AND l.granted AND l.relation = t.rel::oid"
    "   AND l.database = (SELECT d.oid FROM pg_database AS d"
    "                     WHERE d.datname = current_database())"
    "   AND l.pid <> pg_backend_pid()"
    "   AND a.backend_type <> 'startup'" /* the recovery process: the replay itself */
    " ) AS r ON true"
    " ORDER BY r.age_s DESC NULLS LAST, r.pid";

static void
free_reader(Convoy__Wire__Reader *rd)
{
    if (rd == NULL)
        return;
    free(rd->user);
    free(rd->state);
    free(rd->query);
    free(rd);
}

void
metrics_result_clear(Convoy__Wire__Result *res)
{
    uint64_t id = res->id;

    free(res->message);
    for (size_t i = 0; i < res->n_readers; i++)
        free_reader(res->readers[i]);
    free(res->readers);
    convoy__wire__result__init(res);
    res->message = NULL;
    res->id = id;
}

pg_status_t
metrics_readers(pg_t *pg, const char *table, Convoy__Wire__Result *out)
{
    const char *params[1] = {table};
    PGresult *res = NULL;
    pg_status_t s;
    bool missing = false;
    int rows;

    out->ok = false;
    out->n_readers = 0;
    out->readers = NULL;
    if (pg == NULL) {
        out->message = xstrdup("not connected to the database");
        return PG_CONN_LOST;
    }
    s = pg_run(pg, readers_sql, 1, params, &res);
    if (s != PG_OK) {
        out->message = metrics_one_line(pg_errmsg(pg));
        return s;
    }
    rows = PQntuples(res);
    if (rows < 1 || PQnfields(res) != 6 || !col_bool(res, 0, 0, &missing)) {
        PQclear(res);
        out->message = xstrdup("the readers query returned an unexpected shape");
        return PG_ERROR;
    }
    if (missing) {
        PQclear(res);
        out->ok = true;
        out->message = xstrdup("no such table on this node");
        return PG_OK;
    }
    out->readers =
        xcalloc((size_t)(rows < MAX_READERS ? rows : MAX_READERS), sizeof(*out->readers));
    for (int i = 0; i < rows && out->n_readers < MAX_READERS; i++) {
        Convoy__Wire__Reader *rd;
        int64_t pid;
        double age;

        if (col_null(res, i, 1)) /* the LEFT JOIN's row: nobody holds a lock */
            continue;
        if (!col_int64(res, i, 1, 1, INT32_MAX, &pid) || !col_double(res, i, 3, -1, &age)) {
            PQclear(res);
            metrics_result_clear(out);
            out->ok = false;
            out->message = xstrdup("the readers query returned an unexpected value");
            return PG_ERROR;
        }
        rd = xmalloc(sizeof(*rd));
        convoy__wire__reader__init(rd);
        rd->pid = (int32_t)pid;
        rd->user = col_text(res, i, 2);
        rd->age_s = age;
        rd->state = col_text(res, i, 4);
        rd->query = col_text(res, i, 5);
        out->readers[out->n_readers++] = rd;
    }
    PQclear(res);
    out->ok = true;
    out->message = xstrdup("");
    return PG_OK;
}
