/* executor.c: runs stored steps through one lock-safe path, and undoes convoy's helpers. */
#include "convoy/executor.h"

#include "convoy/backfill.h"
#include "convoy/hold.h"
#include "convoy/log.h"
#include "convoy/quote.h"
#include "convoy/state.h"
#include "convoy/util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *
locks_text(const step_t *s)
{
    sb_t sb;

    sb_init(&sb);
    for (int k = 0; k < s->n_locks; k++)
        sb_printf(&sb, "%s%s on %s", k ? "; " : "", lock_mode_name(s->locks[k].mode),
                  s->locks[k].table);
    return sb_steal(&sb);
}

static void
set_failure(exec_t *ex, int n, char *error, char *fix)
{
    free(ex->error);
    free(ex->fix);
    ex->failed_step = n;
    ex->error = error;
    ex->fix = fix;
}

static void
step_end(exec_t *ex,
         int n,
         const step_t *s,
         const char *outcome,
         int64_t ms,
         int64_t rows,
         const char *detail)
{
    engine_event_t e = {0};
    e.kind = EVT_STEP_END;
    e.migration = ex->name;
    e.step = n;
    e.n_steps = (int)ex->plan->n_steps;
    e.s = s;
    e.outcome = outcome;
    e.ms = ms;
    e.rows = rows;
    e.text = detail;
    events_emit(ex->events, &e);
}

/* Records a step's outcome and its audit row (inside the caller's transaction, if any). */
static bool
persist_step(exec_t *ex,
             int n,
             const step_t *s,
             const char *status,
             int64_t ms,
             int64_t rows,
             const char *detail)
{
    char *locks = locks_text(s);
    audit_entry_t e = {ex->name, n,      step_kind_name(s->kind), s->sql, locks, ms, rows,
                       status,   detail, ex->lease->token};
    bool ok = state_mark_step(ex->pg, ex->name, ex->lease->token, n, status, ms, rows,
                              strcmp(status, "done") == 0 ? NULL : detail) &&
              state_audit(ex->pg, &e);
    free(locks);
    return ok;
}

static void
set_status(exec_t *ex, int n, const char *status)
{
    free(ex->status[n - 1]);
    ex->status[n - 1] = xstrdup(status);
}

static bool
step_is(const exec_t *ex, int n, const char *status)
{
    return n >= 1 && (size_t)n <= ex->plan->n_steps && ex->status[n - 1] &&
           strcmp(ex->status[n - 1], status) == 0;
}

/* Sessions holding granted locks on the step's tables, oldest transaction first. */
static char *
describe_blockers(exec_t *ex, const step_t *s)
{
    sb_t sb;

    sb_init(&sb);
    for (int k = 0; k < s->n_locks; k++) {
        const char *p[1] = {s->locks[k].table};
        PGresult *r = NULL;
        if (pg_run(ex->pg,
                   "SELECT a.pid, coalesce(a.state, '?'), "
                   "coalesce(round(extract(epoch FROM now() - coalesce(a.xact_start, "
                   "a.query_start)))::bigint, 0), "
                   "regexp_replace(left(coalesce(a.query, ''), 100), '\\s+', ' ', 'g'), "
                   "string_agg(DISTINCT l.mode, ','), coalesce(a.usename, '?') "
                   "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                   "WHERE l.granted AND l.locktype = 'relation' AND "
                   "l.relation = to_regclass($1) AND l.pid <> pg_backend_pid() "
                   "GROUP BY a.pid, a.state, a.xact_start, a.query_start, a.query, a.usename "
                   "ORDER BY a.xact_start NULLS LAST LIMIT 3",
                   1, p, &r) != PG_OK)
            continue;
        for (int i = 0; i < PQntuples(r); i++)
            sb_printf(&sb, "%spid %s (user %s, %s for %ss, holds %s) running \"%s\"",
                      sb.len ? "; " : "", PQgetvalue(r, i, 0), PQgetvalue(r, i, 5),
                      PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 4),
                      PQgetvalue(r, i, 3));
        PQclear(r);
    }
    if (sb.len == 0)
        sb_puts(&sb, "a session that released its lock before convoy could look");
    return sb_steal(&sb);
}

/*
 * PostgreSQL cancels an autovacuum that blocks a lock request only after the waiter has
 * waited deadlock_timeout (1 s); convoy's attempts give up long before that. So convoy does
 * what the server would: it cancels an ordinary autovacuum (never one that prevents
 * wraparound) holding a lock on the step's tables. It runs again later.
 */
static void
cancel_autovacuum(exec_t *ex, const step_t *s)
{
    for (int k = 0; k < s->n_locks; k++) {
        const char *p[1] = {s->locks[k].table};
        PGresult *r = NULL;
        if (pg_run(ex->pg,
                   "SELECT a.pid, pg_cancel_backend(a.pid) FROM pg_locks l JOIN pg_stat_activity "
                   "a ON a.pid = l.pid WHERE l.granted AND l.locktype = 'relation' AND "
                   "l.relation = to_regclass($1) AND a.backend_type = 'autovacuum worker' AND "
                   "a.query NOT LIKE '%to prevent wraparound%'",
                   1, p, &r) != PG_OK)
            continue;
        for (int i = 0; i < PQntuples(r); i++)
            events_line(ex->events, EVT_WAIT, ex->name, 0,
                        "    cancelled autovacuum (pid %s) holding a lock on %s, as PostgreSQL "
                        "itself would after deadlock_timeout; it runs again later",
                        PQgetvalue(r, i, 0), s->locks[k].table);
        PQclear(r);
    }
}

static bool
abort_requested(exec_t *ex)
{
    mig_status_t st;
    return state_status(ex->pg, ex->name, &st) && st == MIG_ABORTING;
}

/* Waits at a gate point (pause, abort, the fleet); after a step, at its WAL position. */
static exec_result_t
at_gate(exec_t *ex, gate_point_t point, int n, const step_t *s)
{
    hold_ctx_t h = {ex->pg, ex->name, ex->lease->token, ex->ctl, ex->events, ex->gate, NULL};
    gate_query_t q = {0};

    if (point == GATE_BEFORE_STEP)
        h.plan = ex->plan;
    q.point = point;
    q.migration = ex->name;
    q.step = n;
    q.s = s;
    if (point == GATE_AFTER_STEP) {
        char *lsn = pg_value(ex->pg, "SELECT pg_current_wal_lsn()::text", 0, NULL);
        if (lsn)
            snprintf(q.lsn, sizeof(q.lsn), "%s", lsn);
        free(lsn);
        if (q.lsn[0] == '\0')
            return pg_classify(pg_sqlstate(ex->pg)) == PG_CONN_LOST ? XR_CONN_LOST : XR_FENCED;
    }
    return hold_wait(&h, &q, MIG_N_STATUS);
}

/* Called inside the statement's transaction, before COMMIT; false rolls everything back. */
typedef bool (*in_tx_fn)(exec_t *ex, int n, const step_t *s, int64_t ms, int attempts, void *ud);

typedef enum {
    L_OK,
    L_LOCKED,
    L_ERROR,
    L_STOPPED,
    L_ABORT,
    L_FENCED,
    L_CONN_LOST,
    L_NOT_IN_TX
} locked_t;

/*
 * The one path for lock-taking statements: BEGIN; SET LOCAL lock_timeout/statement_timeout;
 * sql; in_tx(); COMMIT. Retries on lock timeouts with full jitter within the plan's retry
 * policy, naming the blockers each time; stops when asked (and on an abort request unless
 * `undoing`). On L_ERROR/L_LOCKED, *msg gets the message (caller frees) and *state the
 * SQLSTATE.
 */
static locked_t
run_locked(exec_t *ex,
           int n,
           const step_t *s,
           const char *sql,
           int64_t stmt_timeout_ms,
           bool undoing,
           in_tx_fn in_tx,
           void *ud,
           char **msg,
           char state[6])
{
    const plan_t *p = ex->plan;
    int64_t first = now_mono_ms();
    char *set_sql = xasprintf("BEGIN; SET LOCAL lock_timeout = '%lldms'; "
                              "SET LOCAL statement_timeout = '%lldms'",
                              (long long)p->lock_timeout_ms, (long long)stmt_timeout_ms);
    locked_t res = L_ERROR;

    *msg = NULL;
    state[0] = '\0';
    for (int attempt = 1;; attempt++) {
        int64_t t0 = now_mono_ms();
        pg_status_t st = pg_exec(ex->pg, set_sql);

        if (st == PG_OK)
            st = pg_exec(ex->pg, sql);
        if (st == PG_OK && in_tx && !in_tx(ex, n, s, now_mono_ms() - t0, attempt, ud))
            st = pg_classify(pg_sqlstate(ex->pg));
        if (st == PG_OK)
            st = pg_exec(ex->pg, "COMMIT");
        if (st == PG_OK) {
            res = L_OK;
            break;
        }
        free(*msg);
        *msg = xstrdup(pg_errmsg(ex->pg));
        snprintf(state, 6, "%s", pg_sqlstate(ex->pg));
        pg_exec(ex->pg, "ROLLBACK");
        if (st == PG_CONN_LOST) {
            res = L_CONN_LOST;
            break;
        }
        if (st == PG_FENCED) {
            res = L_FENCED;
            break;
        }
        if (strcmp(state, "25001") == 0) {
            res = L_NOT_IN_TX;
            break;
        }
        if (run_ctl_stopped(ex->ctl) && (st == PG_CANCELED || st == PG_LOCK_TIMEOUT)) {
            res = L_STOPPED;
            break;
        }
        if (st != PG_LOCK_TIMEOUT) {
            res = L_ERROR;
            break;
        }
        if (!retry_allowed(&p->retry, attempt, now_mono_ms() - first)) {
            char *who = describe_blockers(ex, s);
            free(*msg);
            *msg = xasprintf("could not take the lock after %d attempts over %lld ms; blocked by "
                             "%s",
                             attempt, (long long)(now_mono_ms() - first), who);
            free(who);
            res = L_LOCKED;
            break;
        }
        cancel_autovacuum(ex, s);
        {
            int64_t delay = retry_delay_ms(&p->retry, attempt, randombytes_random());
            char *who = describe_blockers(ex, s);
            char *detail = xasprintf("lock_timeout %lld ms expired, blocked by %s; retry %d in "
                                     "%lld ms",
                                     (long long)p->lock_timeout_ms, who, attempt, (long long)delay);
            audit_entry_t a = {ex->name, n,  "lock_wait", sql,    NULL,
                               -1,       -1, "retry",     detail, ex->lease->token};
            events_line(ex->events, EVT_WAIT, ex->name, n, "    waiting: %s", detail);
            state_audit(ex->pg, &a); /* every wait and its blocker, for the report */
            free(detail);
            free(who);
            if (!run_ctl_sleep(ex->ctl, delay)) {
                res = L_STOPPED;
                break;
            }
        }
        if (!undoing && abort_requested(ex)) {
            res = L_ABORT;
            break;
        }
    }
    free(set_sql);
    return res;
}

static bool
mark_done_in_tx(exec_t *ex, int n, const step_t *s, int64_t ms, int attempts, void *ud)
{
    (void)ud;
    return persist_step(ex, n, s, "done", ms, -1,
                        attempts > 1 ? "succeeded after lock retries" : NULL);
}

/* Maps a locked-path outcome onto an exec result, recording the failure. */
static exec_result_t
locked_result(exec_t *ex, int n, const step_t *s, locked_t lr, const char *msg, const char *state)
{
    switch (lr) {
    case L_OK:
        return XR_OK;
    case L_STOPPED:
        return XR_INTERRUPTED;
    case L_ABORT:
        return XR_ABORT;
    case L_FENCED:
        return XR_FENCED;
    case L_CONN_LOST:
        set_failure(ex, n, xasprintf("lost the database connection: %s", msg ? msg : "?"),
                    xstrdup("run convoy apply again once the server is reachable: it resumes"));
        return XR_CONN_LOST;
    case L_LOCKED:
        set_failure(ex, n, xasprintf("%s. Nothing was changed by this step", msg),
                    xasprintf("end the blocking session or run convoy apply again later: it "
                              "resumes at step %d",
                              n));
        return XR_LOCKED;
    default:
        set_failure(ex, n, xasprintf("%s (SQLSTATE %s)", msg ? msg : "?", state),
                    xstrdup("correct the cause and run convoy apply again (it resumes at this "
                            "step), or convoy abort to remove what convoy installed"));
        (void)s;
        return strncmp(state, "23", 2) == 0 ? XR_BLOCKED : XR_FAILED;
    }
}

/* The pre-check nearest before step n on the same table, or 0. */
static int
precheck_for(const exec_t *ex, int n)
{
    const step_t *s = &ex->plan->steps[n - 1];
    for (int i = n - 1; i >= 1; i--) {
        const step_t *p = &ex->plan->steps[i - 1];
        if (p->kind == STEP_PRECHECK && p->n_locks > 0 && s->n_locks > 0 &&
            strcmp(p->locks[0].table, s->locks[0].table) == 0)
            return i;
    }
    return 0;
}

/* Runs a pre-check's count and sample; NULL when no row violates, else the message. */
static char *
violations(exec_t *ex, const step_t *p, bool *query_failed)
{
    char *count, *msg = NULL;

    *query_failed = false;
    pg_exec(ex->pg, "SET statement_timeout = 0");
    count = pg_value(ex->pg, p->count_sql, 0, NULL);
    if (count == NULL) {
        *query_failed = true;
        msg = xasprintf("the pre-check failed: %s", pg_errmsg(ex->pg));
    } else if (strcmp(count, "0") != 0) {
        PGresult *r = NULL;
        sb_t sample;
        sb_init(&sample);
        if (pg_run(ex->pg, p->sample_sql, 0, NULL, &r) == PG_OK) {
            for (int i = 0; i < PQntuples(r); i++)
                sb_printf(&sample, "%s(%s)", i ? ", " : "", PQgetvalue(r, i, 0));
            PQclear(r);
        }
        bool one = strcmp(count, "1") == 0;
        const char *desc = p->check_desc ? p->check_desc : "violate the change";
        /* check_desc is written for many rows ("have a NULL bio"): one row "has" */
        if (one && strncmp(desc, "have ", 5) == 0)
            msg = xasprintf("1 row of %s has %s; sample key: %s", p->locks[0].table, desc + 5,
                            sample.data);
        else
            msg = xasprintf("%s row%s of %s %s; sample keys: %s", count, one ? "" : "s",
                            p->locks[0].table, desc, sample.data);
        sb_free(&sample);
    }
    pg_exec(ex->pg, "RESET statement_timeout");
    free(count);
    return msg;
}

static exec_result_t
run_precheck(exec_t *ex, int n, const step_t *s)
{
    int64_t t0 = now_mono_ms();
    bool failed;
    char *msg = violations(ex, s, &failed);

    if (msg == NULL) {
        if (!persist_step(ex, n, s, "done", now_mono_ms() - t0, 0, "no violating rows"))
            return pg_classify(pg_sqlstate(ex->pg)) == PG_FENCED ? XR_FENCED : XR_FAILED;
        step_end(ex, n, s, "done", now_mono_ms() - t0, 0, "no violating rows");
        return XR_OK;
    }
    if (failed) {
        set_failure(ex, n, msg, xstrdup("correct the cause and run convoy apply again"));
        return run_ctl_stopped(ex->ctl) ? XR_INTERRUPTED : XR_FAILED;
    }
    set_failure(ex, n, xasprintf("%s, so the next step would fail. Nothing was added", msg),
                xasprintf("fix those rows (find them with: %s), then run convoy apply again: it "
                          "resumes at step %d",
                          s->count_sql, n));
    free(msg);
    return XR_BLOCKED;
}

static exec_result_t run_concurrent(exec_t *ex, int n, const step_t *s);

/* A transactional step: DDL, VALIDATE, passthrough. */
static exec_result_t
run_tx_step(exec_t *ex, int n, const step_t *s)
{
    int64_t t0 = now_mono_ms();
    char *msg = NULL, state[6];
    locked_t lr;
    exec_result_t xr;

    if (s->kind == STEP_PASSTHROUGH && !s->transactional)
        return run_concurrent(ex, n, s);
    /* a step that scans (VALIDATE, ANALYZE) runs as long as the table needs */
    lr = run_locked(ex, n, s, s->sql,
                    s->kind == STEP_VALIDATE || s->scans ? 0 : ex->plan->statement_timeout_ms,
                    false, mark_done_in_tx, NULL, &msg, state);

    if (lr == L_NOT_IN_TX && s->kind == STEP_PASSTHROUGH) {
        /* e.g. CREATE INDEX CONCURRENTLY on a table this file creates */
        char *set = xasprintf("SET lock_timeout = '%lldms'", (long long)ex->plan->lock_timeout_ms);
        pg_status_t st;
        pg_exec(ex->pg, set);
        free(set);
        st = pg_exec(ex->pg, s->sql);
        free(msg);
        msg = st == PG_OK ? NULL : xstrdup(pg_errmsg(ex->pg));
        snprintf(state, sizeof(state), "%s", pg_sqlstate(ex->pg));
        pg_exec(ex->pg, "RESET lock_timeout");
        lr = st == PG_OK ? L_OK : st == PG_CONN_LOST ? L_CONN_LOST : L_ERROR;
        if (lr == L_OK && !persist_step(ex, n, s, "done", now_mono_ms() - t0, -1,
                                        "ran outside a transaction block"))
            lr = pg_classify(pg_sqlstate(ex->pg)) == PG_FENCED ? L_FENCED : L_ERROR;
    }
    xr = locked_result(ex, n, s, lr, msg, state);
    if (xr == XR_BLOCKED) {
        /* a violation that appeared after the pre-check: say which rows */
        int pc = precheck_for(ex, n);
        bool qf;
        char *v = pc ? violations(ex, &ex->plan->steps[pc - 1], &qf) : NULL;
        if (v) {
            char *full = xasprintf("%s: %s (rows written after the pre-check)", ex->error, v);
            free(ex->error);
            ex->error = full;
            free(ex->fix);
            ex->fix = xasprintf("fix those rows (find them with: %s), then run convoy apply "
                                "again: it resumes at step %d",
                                ex->plan->steps[pc - 1].count_sql, pc);
            free(v);
        }
    }
    if (xr == XR_OK)
        step_end(ex, n, s, "done", now_mono_ms() - t0, -1, NULL);
    free(msg);
    return xr;
}

/* Our index: "valid", "invalid", NULL (absent); *other names another relation's owner. */
static char *
index_state(exec_t *ex, const step_t *s, char **other)
{
    const char *p[3] = {s->index_name, s->index_schema, s->table_sql};
    PGresult *r = NULL;
    char *state = NULL;

    *other = NULL;
    if (pg_run(ex->pg,
               "SELECT CASE WHEN i.indexrelid IS NULL THEN 'other' WHEN i.indisvalid THEN 'valid' "
               "ELSE 'invalid' END, CASE WHEN i.indexrelid IS NULL THEN c.oid::regclass::text "
               "WHEN $3::text IS NOT NULL AND i.indrelid <> to_regclass($3) "
               "THEN i.indrelid::regclass::text END "
               "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
               "LEFT JOIN pg_index i ON i.indexrelid = c.oid "
               "WHERE c.relname = $1 AND n.nspname = coalesce($2, current_schema())",
               3, p, &r) != PG_OK ||
        PQntuples(r) == 0) {
        PQclear(r);
        return NULL;
    }
    state = xstrdup(PQgetvalue(r, 0, 0));
    if (!PQgetisnull(r, 0, 1))
        *other = xstrdup(PQgetvalue(r, 0, 1));
    PQclear(r);
    return state;
}

/* DROP INDEX CONCURRENTLY, bounded: lock_timeout retries, and at most `budget_ms` overall. */
static bool
drop_index_concurrently(exec_t *ex, const step_t *s, int64_t budget_ms)
{
    const char *p[1] = {s->index_schema};
    char *schema = pg_value(ex->pg, "SELECT coalesce($1::text, current_schema())", 1, p);
    char *qs, *qi, *sql, *set;
    int64_t first = now_mono_ms();
    bool ok = false;

    if (schema == NULL)
        return false;
    qs = ident_sql(schema);
    qi = ident_sql(s->index_name);
    sql = xasprintf("DROP INDEX CONCURRENTLY IF EXISTS %s.%s", qs, qi);
    set = xasprintf("SET lock_timeout = '%lldms'; SET statement_timeout = '%lldms'",
                    (long long)ex->plan->lock_timeout_ms, (long long)budget_ms);
    for (int attempt = 1;; attempt++) {
        pg_exec(ex->pg, set);
        ok = pg_exec(ex->pg, sql) == PG_OK;
        pg_exec(ex->pg, "RESET lock_timeout; RESET statement_timeout");
        if (ok || pg_classify(pg_sqlstate(ex->pg)) != PG_LOCK_TIMEOUT ||
            !retry_allowed(&ex->plan->retry, attempt, now_mono_ms() - first) ||
            now_mono_ms() - first > budget_ms)
            break;
        if (!run_ctl_sleep(NULL, retry_delay_ms(&ex->plan->retry, attempt, randombytes_random())))
            break;
    }
    events_line(ex->events, EVT_INFO, ex->name, 0,
                ok ? "    dropped INVALID index %s.%s left by an unfinished build"
                   : "    could not drop INVALID index %s.%s yet",
                qs, qi);
    free(set);
    free(sql);
    free(qs);
    free(qi);
    free(schema);
    return ok;
}

static int
step_attempts(exec_t *ex, int n)
{
    char num[16];
    const char *p[2] = {ex->name, num};
    char *v;
    int a;

    snprintf(num, sizeof(num), "%d", n);
    v = pg_value(ex->pg, "SELECT attempts FROM convoy.steps WHERE migration = $1 AND n = $2::int",
                 2, p);
    a = v ? (int)strtol(v, NULL, 10) : 0;
    free(v);
    return a;
}

static exec_result_t
mark_running(exec_t *ex, int n)
{
    if (state_mark_step(ex->pg, ex->name, ex->lease->token, n, "running", -1, -1, NULL))
        return XR_OK;
    if (pg_classify(pg_sqlstate(ex->pg)) == PG_FENCED)
        return XR_FENCED;
    set_failure(ex, n, xasprintf("recording step %d: %s", n, pg_errmsg(ex->pg)), NULL);
    return XR_FAILED;
}

static exec_result_t
mark_done(exec_t *ex, int n, const step_t *s, int64_t ms, int64_t rows, const char *detail)
{
    if (!persist_step(ex, n, s, "done", ms, rows, detail)) {
        if (pg_classify(pg_sqlstate(ex->pg)) == PG_FENCED)
            return XR_FENCED;
        set_failure(ex, n, xasprintf("recording step %d: %s", n, pg_errmsg(ex->pg)), NULL);
        return XR_FAILED;
    }
    step_end(ex, n, s, "done", ms, rows, detail);
    return XR_OK;
}

/*
 * A statement that cannot run in a transaction block and only takes SHARE UPDATE EXCLUSIVE
 * (REINDEX CONCURRENTLY, VACUUM): like CREATE INDEX CONCURRENTLY, its waits block no reader
 * or writer, so it runs without lock_timeout; a stop request cancels it.
 */
static exec_result_t
run_concurrent(exec_t *ex, int n, const step_t *s)
{
    int64_t t0 = now_mono_ms();
    exec_result_t xr;
    pg_status_t st;

    if ((xr = mark_running(ex, n)) != XR_OK)
        return xr;
    pg_exec(ex->pg, "SET lock_timeout = 0; SET statement_timeout = 0");
    st = pg_exec(ex->pg, s->sql);
    if (st == PG_CONN_LOST) {
        set_failure(ex, n, xasprintf("lost the database connection: %s", pg_errmsg(ex->pg)),
                    xstrdup("run convoy apply again once the server is reachable"));
        return XR_CONN_LOST;
    }
    if (st != PG_OK) {
        char *full = xasprintf("%s (SQLSTATE %s)", pg_errmsg(ex->pg), pg_sqlstate(ex->pg));
        pg_exec(ex->pg, "RESET lock_timeout; RESET statement_timeout");
        if (run_ctl_stopped(ex->ctl)) {
            free(full);
            return XR_INTERRUPTED;
        }
        set_failure(ex, n, full, xstrdup("correct the cause and run convoy apply again"));
        return XR_FAILED;
    }
    pg_exec(ex->pg, "RESET lock_timeout; RESET statement_timeout");
    return mark_done(ex, n, s, now_mono_ms() - t0, -1, "ran outside a transaction block");
}

static exec_result_t
run_index_step(exec_t *ex, int n, const step_t *s)
{
    char *other = NULL;
    char *state = index_state(ex, s, &other);
    int64_t t0 = now_mono_ms();
    exec_result_t xr;
    pg_status_t st;
    char sqlstate[6];
    char *msg;

    if (state && s->missing_ok && (other || step_attempts(ex, n) == 0)) {
        /* IF NOT EXISTS: PostgreSQL skips whatever relation holds the name */
        free(state);
        free(other);
        return mark_done(ex, n, s, 0, -1, "relation already exists: skipped (IF NOT EXISTS)");
    }
    if (state && other) {
        set_failure(ex, n,
                    xasprintf("relation \"%s\" already exists: it belongs to %s, not to %s",
                              s->index_name, other, s->table_sql ? s->table_sql : "this table"),
                    xstrdup("choose another index name (PostgreSQL index names are unique per "
                            "schema, across tables)"));
        free(state);
        free(other);
        return XR_FAILED;
    }
    if (state && step_attempts(ex, n) == 0) {
        /* not built by this migration: psql would have failed the same way */
        set_failure(ex, n,
                    xasprintf("relation \"%s\" already exists (an index on %s that this "
                              "migration did not build)",
                              s->index_name, s->table_sql ? s->table_sql : "the table"),
                    xstrdup("choose another index name, or drop the existing index first"));
        free(state);
        return XR_FAILED;
    }
    if (state && strcmp(state, "valid") == 0) {
        free(state);
        return mark_done(ex, n, s, 0, -1, "index already valid (built by an earlier attempt)");
    }
    if (state && !drop_index_concurrently(ex, s, 60000)) {
        free(state);
        set_failure(
            ex, n,
            xstrdup("an INVALID index of this name is left from an earlier attempt "
                    "and could not be dropped"),
            xasprintf("drop it with DROP INDEX CONCURRENTLY %s, then apply again", s->index_name));
        return XR_FAILED;
    }
    free(state);
    if ((xr = mark_running(ex, n)) != XR_OK)
        return xr;
    /* CIC waits for old transactions without blocking reads or writes: no lock_timeout. */
    pg_exec(ex->pg, "SET lock_timeout = 0; SET statement_timeout = 0");
    st = pg_exec(ex->pg, s->sql);
    snprintf(sqlstate, sizeof(sqlstate), "%s", pg_sqlstate(ex->pg));
    msg = ex->pg->errdetail ? xasprintf("%s: %s", pg_errmsg(ex->pg), ex->pg->errdetail)
                            : xstrdup(pg_errmsg(ex->pg));
    if (st == PG_CONN_LOST) {
        set_failure(ex, n, xasprintf("lost the database connection: %s", msg),
                    xstrdup("run convoy apply again: it drops the INVALID index and rebuilds"));
        free(msg);
        return XR_CONN_LOST;
    }
    pg_exec(ex->pg, "RESET lock_timeout; RESET statement_timeout");
    if (st == PG_OK) {
        free(msg);
        return mark_done(ex, n, s, now_mono_ms() - t0, -1, NULL);
    }
    {
        /* Never leave an INVALID index behind: a unique one still rejects duplicates. */
        char *o2 = NULL;
        char *after = index_state(ex, s, &o2);
        bool left = after && strcmp(after, "invalid") == 0;
        bool stopped = run_ctl_stopped(ex->ctl);
        if (left && !drop_index_concurrently(ex, s, stopped ? 700 : 60000)) {
            set_failure(ex, n,
                        xasprintf("%s; the unfinished build left INVALID index %s, which "
                                  "convoy could not drop yet",
                                  msg, s->index_name),
                        xasprintf("run convoy apply again (it drops and rebuilds it) or DROP "
                                  "INDEX CONCURRENTLY %s",
                                  s->index_name));
            free(after);
            free(o2);
            free(msg);
            return stopped ? XR_INTERRUPTED : XR_FAILED;
        }
        free(after);
        free(o2);
    }
    if (run_ctl_stopped(ex->ctl)) {
        free(msg);
        return XR_INTERRUPTED;
    }
    if (strcmp(sqlstate, "23505") == 0) {
        set_failure(ex, n,
                    xasprintf("index build failed on duplicate values: %s. No INVALID index was "
                              "left behind",
                              msg),
                    xstrdup("remove the duplicates, then run convoy apply again"));
        free(msg);
        return XR_BLOCKED;
    }
    set_failure(ex, n, xasprintf("%s (SQLSTATE %s)", msg, sqlstate),
                xstrdup("correct the cause and run convoy apply again"));
    free(msg);
    return XR_FAILED;
}

static exec_result_t
run_drop_index_step(exec_t *ex, int n, const step_t *s)
{
    char *other = NULL;
    char *state = index_state(ex, s, &other);
    int64_t t0 = now_mono_ms();
    exec_result_t xr;
    pg_status_t st;

    free(other);
    if (state == NULL && (s->missing_ok || step_attempts(ex, n) > 0))
        return mark_done(ex, n, s, 0, -1,
                         s->missing_ok ? "index does not exist: skipped (IF EXISTS)"
                                       : "index already gone (dropped by an earlier attempt)");
    if (state == NULL) {
        set_failure(ex, n, xasprintf("index \"%s\" does not exist", s->index_name),
                    xstrdup("check the index name (and schema), or write DROP INDEX IF EXISTS"));
        return XR_FAILED;
    }
    free(state);
    if ((xr = mark_running(ex, n)) != XR_OK)
        return xr;
    pg_exec(ex->pg, "SET lock_timeout = 0; SET statement_timeout = 0");
    st = pg_exec(ex->pg, s->sql);
    if (st != PG_OK) {
        char *full = xasprintf("%s (SQLSTATE %s)", pg_errmsg(ex->pg), pg_sqlstate(ex->pg));
        pg_exec(ex->pg, "RESET lock_timeout; RESET statement_timeout");
        set_failure(ex, n, full, xstrdup("correct the cause and run convoy apply again"));
        return run_ctl_stopped(ex->ctl) ? XR_INTERRUPTED : XR_FAILED;
    }
    pg_exec(ex->pg, "RESET lock_timeout; RESET statement_timeout");
    return mark_done(ex, n, s, now_mono_ms() - t0, -1, NULL);
}

static exec_result_t
run_backfill_step(exec_t *ex, int n, const step_t *s)
{
    bf_ctx_t c = {0};
    int64_t t0 = now_mono_ms();
    exec_result_t xr;

    if ((xr = mark_running(ex, n)) != XR_OK)
        return xr;
    c.pg = ex->pg;
    c.migration = ex->name;
    c.step_no = n;
    c.step = s;
    c.token = ex->lease->token;
    c.target_ms = ex->plan->batch_target_ms;
    c.lock_timeout_ms = ex->plan->lock_timeout_ms;
    c.retry = &ex->plan->retry;
    c.ctl = ex->ctl;
    c.events = ex->events;
    c.gate = ex->gate;
    c.workers = ex->plan->backfill_workers;
    switch (backfill_run(&c)) {
    case BF_DONE: {
        char *detail = xasprintf("%lld rows covered, %lld updated", (long long)c.rows_done,
                                 (long long)c.rows_updated);
        xr = mark_done(ex, n, s, now_mono_ms() - t0, c.rows_updated, detail);
        free(detail);
        break;
    }
    case BF_ABORT_REQUESTED:
        xr = XR_ABORT;
        break;
    case BF_INTERRUPTED:
        xr = XR_INTERRUPTED;
        break;
    case BF_FENCED:
        xr = XR_FENCED;
        break;
    case BF_CONN_LOST:
        set_failure(ex, n, xasprintf("lost the database connection: %s", c.error),
                    xstrdup("run convoy apply again: it resumes from the last checkpoint"));
        xr = XR_CONN_LOST;
        break;
    case BF_LOCKED:
        set_failure(ex, n, xasprintf("backfill batches kept timing out on row locks: %s", c.error),
                    xstrdup("end the sessions holding row locks, then run convoy apply again: "
                            "it resumes from the last checkpoint"));
        xr = XR_LOCKED;
        break;
    case BF_FAILED:
        if (c.failing_key)
            set_failure(ex, n,
                        xasprintf("the backfill expression %s fails on row %s: %s (SQLSTATE %s). "
                                  "No row of this batch was changed",
                                  s->expr_sql, c.failing_key, c.error, c.sqlstate),
                        xasprintf("fix that row's data and run convoy apply again (it resumes "
                                  "from the checkpoint), or convoy abort and change the "
                                  "expression in a new migration"));
        else
            set_failure(ex, n,
                        xasprintf("the backfill expression %s failed: %s (SQLSTATE %s)",
                                  s->expr_sql, c.error, c.sqlstate),
                        xstrdup("correct the expression in a new migration, or the data, then "
                                "run convoy apply again"));
        xr = XR_FAILED;
        break;
    default:
        set_failure(ex, n, xasprintf("backfill failed: %s", c.error ? c.error : "unknown error"),
                    xstrdup("correct the cause and run convoy apply again"));
        xr = XR_FAILED;
        break;
    }
    free(c.error);
    free(c.failing_key);
    return xr;
}

exec_result_t
exec_run(exec_t *ex)
{
    size_t total = ex->plan->n_steps;

    for (size_t i = 0; i < total; i++) {
        const step_t *s = &ex->plan->steps[i];
        int n = (int)i + 1;
        engine_event_t e = {0};
        exec_result_t xr;

        if (step_is(ex, n, "done"))
            continue;
        if (run_ctl_stopped(ex->ctl))
            return XR_INTERRUPTED;
        if (!lease_renew(ex->pg, ex->lease))
            return pg_classify(pg_sqlstate(ex->pg)) == PG_CONN_LOST ? XR_CONN_LOST : XR_FENCED;
        if ((xr = at_gate(ex, GATE_BEFORE_STEP, n, s)) != XR_OK)
            return xr;
        log_set_context("migration=%s step=%d", ex->name, n);
        e.kind = EVT_STEP_BEGIN;
        e.migration = ex->name;
        e.step = n;
        e.n_steps = (int)total;
        e.s = s;
        e.text = s->summary;
        events_emit(ex->events, &e);
        switch (s->kind) {
        case STEP_BACKFILL:
            xr = run_backfill_step(ex, n, s);
            break;
        case STEP_INDEX:
            xr = run_index_step(ex, n, s);
            break;
        case STEP_DROP_INDEX:
            xr = run_drop_index_step(ex, n, s);
            break;
        case STEP_PRECHECK:
            xr = run_precheck(ex, n, s);
            break;
        default:
            xr = run_tx_step(ex, n, s);
            break;
        }
        if (xr != XR_OK) {
            if (xr == XR_FAILED || xr == XR_BLOCKED || xr == XR_LOCKED) {
                const char *st = xr == XR_BLOCKED ? "blocked" : "failed";
                if (persist_step(ex, n, s, st, -1, -1, ex->error))
                    set_status(ex, n, st);
                step_end(ex, n, s, st, -1, -1, ex->error);
            }
            return xr;
        }
        set_status(ex, n, "done");
        /* the next step waits until every replica has replayed this one */
        if (ex->gate && (xr = at_gate(ex, GATE_AFTER_STEP, n, s)) != XR_OK)
            return xr;
    }
    log_set_context("migration=%s", ex->name);
    return XR_OK;
}

/* mark[j] for every step that needs step n in place, directly or through another step. */
static bool *
dependents(const exec_t *ex, int n)
{
    bool *mark = xcalloc(ex->plan->n_steps + 1, sizeof(bool));

    mark[n] = true;
    for (size_t j = (size_t)n + 1; j <= ex->plan->n_steps; j++) {
        int r = ex->plan->steps[j - 1].requires;
        mark[j] = r > 0 && (size_t)r <= ex->plan->n_steps && mark[r];
    }
    mark[n] = false;
    return mark;
}

/* In the undo's transaction: step n and everything that needs it run again on resume. */
static bool
reopen_in_tx(exec_t *ex, int n, const step_t *s, int64_t ms, int attempts, void *ud)
{
    char *locks = locks_text(s);
    audit_entry_t e = {ex->name,
                       n,
                       "undo",
                       s->undo_sql,
                       locks,
                       ms,
                       -1,
                       "undone",
                       attempts > 1 ? "succeeded after lock retries" : NULL,
                       ex->lease->token};
    bool ok = state_mark_step(ex->pg, ex->name, ex->lease->token, n, "pending", -1, -1, NULL) &&
              state_audit(ex->pg, &e);
    bool *mark = dependents(ex, n);

    (void)ud;
    free(locks);
    for (size_t j = 1; ok && j <= ex->plan->n_steps; j++) {
        if (!mark[j])
            continue;
        ok = state_mark_step(ex->pg, ex->name, ex->lease->token, (int)j, "pending", -1, -1, NULL) &&
             (ex->plan->steps[j - 1].kind != STEP_BACKFILL ||
              state_reset_backfill(ex->pg, ex->name, ex->lease->token, (int)j));
    }
    free(mark);
    return ok;
}

exec_result_t
exec_undo(exec_t *ex, sb_t *undone, sb_t *kept)
{
    exec_result_t res = XR_OK;

    for (size_t i = ex->plan->n_steps; i-- > 0;) {
        const step_t *s = &ex->plan->steps[i];
        int n = (int)i + 1;

        if (s->kind == STEP_INDEX && !step_is(ex, n, "done") && !step_is(ex, n, "pending")) {
            char *other = NULL;
            char *st = index_state(ex, s, &other);
            if (st && !other && strcmp(st, "invalid") == 0) {
                if (drop_index_concurrently(ex, s, run_ctl_stopped(ex->ctl) ? 700 : 60000))
                    sb_printf(undone, "%sdropped INVALID index %s", undone->len ? "; " : "",
                              s->index_name);
                else
                    sb_printf(kept,
                              "%sINVALID index %s (still maintained on writes; a unique one "
                              "rejects duplicates): DROP INDEX CONCURRENTLY it",
                              kept->len ? "; " : "", s->index_name);
            }
            free(st);
            free(other);
            continue;
        }
        if (s->undo_sql == NULL || !step_is(ex, n, "done") ||
            (s->final_step && step_is(ex, s->final_step, "done")))
            continue;
        {
            char *msg = NULL, state[6];
            locked_t lr = run_locked(ex, n, s, s->undo_sql, ex->plan->statement_timeout_ms, true,
                                     reopen_in_tx, NULL, &msg, state);
            if (lr == L_OK) {
                sb_printf(undone, "%sundid step %d (%s)", undone->len ? "; " : "", n, s->summary);
                bool *mark = dependents(ex, n);
                set_status(ex, n, "pending");
                for (size_t j = 1; j <= ex->plan->n_steps; j++)
                    if (mark[j])
                        set_status(ex, (int)j, "pending");
                free(mark);
            } else {
                sb_printf(kept, "%sstep %d (%s) is still in place: %s", kept->len ? "; " : "", n,
                          s->summary,
                          lr == L_STOPPED ? "interrupted before it could be removed"
                                          : (msg ? msg : "?"));
                if (lr == L_FENCED || lr == L_CONN_LOST)
                    res = lr == L_FENCED ? XR_FENCED : XR_CONN_LOST;
                else if (res == XR_OK)
                    res = lr == L_LOCKED ? XR_LOCKED : lr == L_STOPPED ? XR_INTERRUPTED : XR_FAILED;
            }
            free(msg);
            if (res == XR_FENCED || res == XR_CONN_LOST)
                return res;
        }
    }
    return res;
}

void
exec_in_place(const exec_t *ex, sb_t *out)
{
    for (size_t i = 0; i < ex->plan->n_steps; i++) {
        const step_t *s = &ex->plan->steps[i];
        int n = (int)i + 1;
        if (s->undo_sql && step_is(ex, n, "done") &&
            !(s->final_step && step_is(ex, s->final_step, "done")))
            sb_printf(out, "%sstep %d (%s)", out->len ? "; " : "", n, s->summary);
    }
}

void
exec_clear(exec_t *ex)
{
    free(ex->error);
    free(ex->fix);
    ex->error = NULL;
    ex->fix = NULL;
}
