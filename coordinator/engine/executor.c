/* executor.c: runs stored steps: lock-timeout retries, blockers shown, safe CONCURRENTLY. */
#include "convoy/executor.h"

#include "convoy/backfill.h"
#include "convoy/exit.h"
#include "convoy/log.h"
#include "convoy/state.h"
#include "convoy/util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

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

/* Records a step's outcome in durable state and the audit log (inside the caller's
 * transaction when there is one). */
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
    audit_entry_t e = {ex->name, n,     step_kind_name(s->kind), s->sql, locks, ms, rows,
                       status,   detail};
    bool ok = state_mark_step(ex->pg, ex->name, n, status, ms, rows,
                              strcmp(status, "done") == 0 ? NULL : detail) &&
              state_audit(ex->pg, &e);
    free(locks);
    return ok;
}

/* Adds the step's outcome to the --json report. */
static void
report_step(exec_t *ex,
            int n,
            const step_t *s,
            const char *outcome,
            int64_t ms,
            int64_t rows,
            const char *detail)
{
    json_t *o = json_pack("{s:i, s:s, s:s, s:s}", "n", n, "kind", step_kind_name(s->kind),
                          "summary", s->summary ? s->summary : "", "outcome", outcome);
    json_object_set_new(o, "duration_ms", ms >= 0 ? json_integer(ms) : json_null());
    json_object_set_new(o, "rows", rows >= 0 ? json_integer(rows) : json_null());
    json_object_set_new(o, "detail", detail ? json_string(detail) : json_null());
    json_array_append_new(ex->report, o);
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
                   "string_agg(DISTINCT l.mode, ',') "
                   "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                   "WHERE l.granted AND l.locktype = 'relation' AND "
                   "l.relation = to_regclass($1) AND l.pid <> pg_backend_pid() "
                   "GROUP BY a.pid, a.state, a.xact_start, a.query_start, a.query "
                   "ORDER BY a.xact_start NULLS LAST LIMIT 3",
                   1, p, &r) != PG_OK)
            continue;
        for (int i = 0; i < PQntuples(r); i++)
            sb_printf(&sb, "%spid %s (%s for %ss, holds %s) running \"%s\"", sb.len ? "; " : "",
                      PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
                      PQgetvalue(r, i, 4), PQgetvalue(r, i, 3));
        PQclear(r);
    }
    if (sb.len == 0)
        sb_puts(&sb, "a session that released its lock before convoy could look");
    return sb_steal(&sb);
}

static int
exit_for_sqlstate(const char *state)
{
    /* 23xxx: data violates the new rule; the user must fix data, then rerun. */
    if (strncmp(state, "23", 2) == 0)
        return EXIT_PRECONDITION;
    return EXIT_ERROR;
}

static int
fail_step(exec_t *ex, int n, const step_t *s, int64_t ms, const char *msg, int code)
{
    const char *status = code == EXIT_PRECONDITION ? "blocked" : "failed";
    persist_step(ex, n, s, status, ms, -1, msg);
    state_set_status(ex->pg, ex->name, status, msg);
    report_step(ex, n, s, status, ms, -1, msg);
    progress_line(ex->progress, "convoy: step %d failed: %s", n, msg);
    return code;
}

static int
mark_done(exec_t *ex, int n, const step_t *s, int64_t ms, int64_t rows, const char *detail);

/* A passthrough statement that refuses to run inside a transaction block. */
static int
run_outside_tx(exec_t *ex, int n, const step_t *s)
{
    int64_t t0 = now_mono_ms();
    char *set_sql = xasprintf("SET lock_timeout = '%lldms'", (long long)ex->lock_timeout_ms);
    pg_status_t st;

    pg_exec(ex->pg, set_sql);
    st = pg_exec(ex->pg, s->sql);
    free(set_sql);
    if (st != PG_OK) {
        char *full = xasprintf("%s (SQLSTATE %s)", pg_errmsg(ex->pg), pg_sqlstate(ex->pg));
        int rc;
        pg_exec(ex->pg, "RESET lock_timeout");
        rc = fail_step(ex, n, s, now_mono_ms() - t0, full, exit_for_sqlstate(pg_sqlstate(ex->pg)));
        free(full);
        return rc;
    }
    pg_exec(ex->pg, "RESET lock_timeout");
    return mark_done(ex, n, s, now_mono_ms() - t0, -1, "ran outside a transaction block");
}

/* A transactional step: SET LOCAL timeouts, run, record completion in the same transaction. */
static int
run_tx_step(exec_t *ex, int n, const step_t *s)
{
    int attempt = 0;
    int64_t first = now_mono_ms();
    char *set_sql = xasprintf("BEGIN; SET LOCAL lock_timeout = '%lldms'; "
                              "SET LOCAL statement_timeout = '%lldms'",
                              (long long)ex->lock_timeout_ms,
                              (long long)(s->kind == STEP_VALIDATE ? 0 : ex->statement_timeout_ms));
    int rc = EXIT_ERROR;

    for (;;) {
        int64_t t0 = now_mono_ms(), ms;
        pg_status_t st;

        attempt++;
        st = pg_exec(ex->pg, set_sql);
        if (st == PG_OK)
            st = pg_exec(ex->pg, s->sql);
        ms = now_mono_ms() - t0;
        if (st == PG_OK) {
            const char *detail = attempt > 1 ? "succeeded after lock retries" : NULL;
            /* the step's completion commits together with its DDL */
            if (persist_step(ex, n, s, "done", ms, -1, detail) &&
                pg_exec(ex->pg, "COMMIT") == PG_OK) {
                report_step(ex, n, s, "done", ms, -1, detail);
                rc = EXIT_OK;
                break;
            }
            st = pg_classify(pg_sqlstate(ex->pg));
        }
        {
            char *msg = xstrdup(pg_errmsg(ex->pg));
            char state[6];
            snprintf(state, sizeof(state), "%s", pg_sqlstate(ex->pg));
            pg_exec(ex->pg, "ROLLBACK");
            if (strcmp(state, "25001") == 0 && s->kind == STEP_PASSTHROUGH) {
                /* e.g. CREATE INDEX CONCURRENTLY on a new table: cannot run in a transaction */
                free(msg);
                free(set_sql);
                return run_outside_tx(ex, n, s);
            }
            if (st == PG_LOCK_TIMEOUT &&
                retry_allowed(&ex->retry, attempt, now_mono_ms() - first)) {
                int64_t delay = retry_delay_ms(&ex->retry, attempt, randombytes_random());
                char *who = describe_blockers(ex, s);
                progress_line(ex->progress,
                              "    waiting: lock_timeout %lld ms expired, blocked by %s; retry %d "
                              "in %lld ms",
                              (long long)ex->lock_timeout_ms, who, attempt, (long long)delay);
                free(who);
                free(msg);
                sleep_ms(delay);
                continue;
            }
            if (st == PG_LOCK_TIMEOUT) {
                char *who = describe_blockers(ex, s);
                char *full = xasprintf("could not take the lock after %d attempts over %lld ms; "
                                       "blocked by %s. Nothing was changed by this step: end the "
                                       "blocking session or rerun later",
                                       attempt, (long long)(now_mono_ms() - first), who);
                rc = fail_step(ex, n, s, now_mono_ms() - first, full, EXIT_LOCKED);
                free(full);
                free(who);
            } else if (st == PG_CONN_LOST) {
                progress_line(ex->progress, "convoy: lost the database connection: %s", msg);
                rc = EXIT_ERROR;
            } else {
                char *full = xasprintf("%s (SQLSTATE %s)", msg, state);
                rc = fail_step(ex, n, s, ms, full, exit_for_sqlstate(state));
                free(full);
            }
            free(msg);
            break;
        }
    }
    free(set_sql);
    return rc;
}

/* "valid", "invalid" or NULL (absent) for the step's index. Caller frees. */
static char *
index_state(exec_t *ex, const step_t *s)
{
    const char *p[2] = {s->index_name, s->index_schema};
    return pg_value(ex->pg,
                    "SELECT CASE WHEN i.indisvalid THEN 'valid' ELSE 'invalid' END "
                    "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE c.relname = $1 AND n.nspname = coalesce($2, current_schema())",
                    2, p);
}

static bool
drop_index_concurrently(exec_t *ex, const step_t *s)
{
    const char *p[2] = {s->index_name, s->index_schema};
    char *schema = pg_value(ex->pg,
                            "SELECT coalesce($2::text, current_schema()) "
                            "WHERE $1::text IS NOT NULL",
                            2, p);
    char *qs, *qi, *sql;
    bool ok;

    if (schema == NULL)
        return false;
    qs = ident_sql(schema);
    qi = ident_sql(s->index_name);
    sql = xasprintf("DROP INDEX CONCURRENTLY IF EXISTS %s.%s", qs, qi);
    pg_exec(ex->pg, "SET lock_timeout = 0; SET statement_timeout = 0");
    ok = pg_exec(ex->pg, sql) == PG_OK;
    pg_exec(ex->pg, "RESET lock_timeout; RESET statement_timeout");
    if (ok)
        progress_line(ex->progress, "    dropped INVALID index %s.%s left by a failed build", qs,
                      qi);
    else
        progress_line(ex->progress, "    could not drop INVALID index %s.%s: %s", qs, qi,
                      pg_errmsg(ex->pg));
    free(sql);
    free(qs);
    free(qi);
    free(schema);
    return ok;
}

static int
mark_done(exec_t *ex, int n, const step_t *s, int64_t ms, int64_t rows, const char *detail)
{
    if (!persist_step(ex, n, s, "done", ms, rows, detail)) {
        progress_line(ex->progress, "convoy: recording step %d: %s", n, pg_errmsg(ex->pg));
        return EXIT_ERROR;
    }
    report_step(ex, n, s, "done", ms, rows, detail);
    return EXIT_OK;
}

static int
run_index_step(exec_t *ex, int n, const step_t *s)
{
    char *state = index_state(ex, s);
    int64_t t0 = now_mono_ms();
    int rc = EXIT_ERROR;

    if (state && strcmp(state, "valid") == 0) {
        free(state);
        return mark_done(ex, n, s, 0, -1, "index already valid (resumed)");
    }
    if (state && !drop_index_concurrently(ex, s)) {
        free(state);
        return fail_step(ex, n, s, 0,
                         "an INVALID index of this name exists and could not be dropped",
                         EXIT_ERROR);
    }
    free(state);
    for (int attempt = 1; attempt <= 2; attempt++) {
        pg_status_t st;
        char sqlstate[6];
        char *msg;

        pg_exec(ex->pg, "SET lock_timeout = 0; SET statement_timeout = 0");
        st = pg_exec(ex->pg, s->sql);
        snprintf(sqlstate, sizeof(sqlstate), "%s", pg_sqlstate(ex->pg));
        msg = xstrdup(pg_errmsg(ex->pg));
        if (ex->pg->errdetail) {
            char *m2 = xasprintf("%s: %s", msg, ex->pg->errdetail);
            free(msg);
            msg = m2;
        }
        pg_exec(ex->pg, "RESET lock_timeout; RESET statement_timeout");
        if (st == PG_OK) {
            free(msg);
            return mark_done(ex, n, s, now_mono_ms() - t0, -1, NULL);
        }
        /* Never leave an INVALID index behind. */
        {
            bool left_invalid, dropped = false;
            state = index_state(ex, s);
            left_invalid = state && strcmp(state, "invalid") == 0;
            if (left_invalid)
                dropped = drop_index_concurrently(ex, s);
            free(state);
            if (left_invalid && !dropped) {
                char *full = xasprintf("%s; the failed build left an INVALID index that convoy "
                                       "could not drop: drop it with DROP INDEX CONCURRENTLY",
                                       msg);
                rc = fail_step(ex, n, s, now_mono_ms() - t0, full, EXIT_ERROR);
                free(full);
                free(msg);
                return rc;
            }
        }
        if (strcmp(sqlstate, "23505") == 0) {
            char *full = xasprintf("index build failed on duplicate values: %s. No INVALID index "
                                   "was left behind. Remove the duplicates, then run convoy "
                                   "apply again",
                                   msg);
            rc = fail_step(ex, n, s, now_mono_ms() - t0, full, EXIT_PRECONDITION);
            free(full);
            free(msg);
            return rc;
        }
        if (attempt < 2 &&
            (st == PG_CANCELED || st == PG_LOCK_TIMEOUT || strcmp(sqlstate, "40P01") == 0)) {
            progress_line(ex->progress, "    index build interrupted (%s); retrying once", msg);
            free(msg);
            continue;
        }
        {
            char *full = xasprintf("%s (SQLSTATE %s)", msg, sqlstate);
            rc = fail_step(ex, n, s, now_mono_ms() - t0, full, exit_for_sqlstate(sqlstate));
            free(full);
        }
        free(msg);
        return rc;
    }
    return rc;
}

static int
run_drop_index_step(exec_t *ex, int n, const step_t *s)
{
    char *state = index_state(ex, s);
    int64_t t0 = now_mono_ms();
    pg_status_t st;

    if (state == NULL)
        return mark_done(ex, n, s, 0, -1, "index already gone");
    free(state);
    pg_exec(ex->pg, "SET lock_timeout = 0; SET statement_timeout = 0");
    st = pg_exec(ex->pg, s->sql);
    pg_exec(ex->pg, "RESET lock_timeout; RESET statement_timeout");
    if (st != PG_OK) {
        char *full = xasprintf("%s (SQLSTATE %s)", pg_errmsg(ex->pg), pg_sqlstate(ex->pg));
        int rc = fail_step(ex, n, s, now_mono_ms() - t0, full, EXIT_ERROR);
        free(full);
        return rc;
    }
    return mark_done(ex, n, s, now_mono_ms() - t0, -1, NULL);
}

static int
run_orphan_check(exec_t *ex, int n, const step_t *s)
{
    int64_t t0 = now_mono_ms();
    char *count;
    int rc;

    pg_exec(ex->pg, "SET statement_timeout = 0");
    count = pg_value(ex->pg, s->count_sql, 0, NULL);
    if (count == NULL) {
        char *full = xasprintf("orphan check failed: %s", pg_errmsg(ex->pg));
        pg_exec(ex->pg, "RESET statement_timeout");
        rc = fail_step(ex, n, s, now_mono_ms() - t0, full, EXIT_ERROR);
        free(full);
        return rc;
    }
    if (strcmp(count, "0") != 0) {
        PGresult *r = NULL;
        sb_t sample;
        char *full;
        sb_init(&sample);
        if (pg_run(ex->pg, s->sample_sql, 0, NULL, &r) == PG_OK) {
            for (int i = 0; i < PQntuples(r); i++)
                sb_printf(&sample, "%s(%s)", i ? ", " : "", PQgetvalue(r, i, 0));
            PQclear(r);
        }
        pg_exec(ex->pg, "RESET statement_timeout");
        full = xasprintf("%s orphan rows reference missing rows, so the foreign key cannot be "
                         "validated; sample of the orphaned values: %s. Delete or repair them "
                         "(find them with: %s), then run convoy apply again: it resumes here",
                         count, sample.data, s->count_sql);
        rc = fail_step(ex, n, s, now_mono_ms() - t0, full, EXIT_PRECONDITION);
        free(full);
        sb_free(&sample);
        free(count);
        return rc;
    }
    pg_exec(ex->pg, "RESET statement_timeout");
    free(count);
    return mark_done(ex, n, s, now_mono_ms() - t0, 0, "no orphans");
}

static int
run_backfill_step(exec_t *ex, int n, const step_t *s)
{
    bf_ctx_t c = {0};
    int64_t t0 = now_mono_ms();
    bf_result_t r;
    int rc;

    c.pg = ex->pg;
    c.migration = ex->name;
    c.step_no = n;
    c.step = s;
    c.lease = ex->lease;
    c.target_ms = ex->batch_target_ms;
    c.lock_timeout_ms = ex->lock_timeout_ms;
    c.progress = ex->progress;
    c.stop_flag = ex->stop_flag;
    r = backfill_run(&c);
    switch (r) {
    case BF_DONE: {
        char *detail = xasprintf("%lld rows covered, %lld updated", (long long)c.rows_done,
                                 (long long)c.rows_updated);
        progress_line(ex->progress, "    backfill done: %s", detail);
        rc = mark_done(ex, n, s, now_mono_ms() - t0, c.rows_updated, detail);
        free(detail);
        break;
    }
    case BF_ABORTED:
        rc = exec_abort_cleanup(ex);
        break;
    case BF_INTERRUPTED:
        progress_line(ex->progress, "convoy: interrupted at a batch boundary; the checkpoint is "
                                    "saved, run convoy apply again to resume");
        rc = EXIT_ABORTED;
        break;
    case BF_LEASE_LOST:
        progress_line(ex->progress, "convoy: lost the lease to another convoy process; stopping");
        rc = EXIT_BUSY;
        break;
    case BF_LOCKED: {
        char *full = xasprintf("backfill batches kept timing out on row locks: %s", c.error);
        rc = fail_step(ex, n, s, now_mono_ms() - t0, full, EXIT_LOCKED);
        free(full);
        break;
    }
    default: {
        char *full = xasprintf("backfill failed: %s", c.error ? c.error : "unknown error");
        rc = fail_step(ex, n, s, now_mono_ms() - t0, full, exit_for_sqlstate(pg_sqlstate(ex->pg)));
        free(full);
        break;
    }
    }
    free(c.error);
    return rc;
}

static bool
abort_requested(exec_t *ex)
{
    char *st = state_status(ex->pg, ex->name);
    bool yes = st && strcmp(st, "aborting") == 0;
    free(st);
    return yes;
}

int
exec_abort_cleanup(exec_t *ex)
{
    sb_t undone;

    /* Callers hold the lease; whoever held it before may already have finished the abort. */
    if (!abort_requested(ex)) {
        progress_line(ex->progress, "convoy: migration %s was already stopped by its driver",
                      ex->name);
        return EXIT_OK;
    }
    sb_init(&undone);
    for (size_t i = 0; i < ex->plan->n_steps; i++) {
        const step_t *s = &ex->plan->steps[i];
        if (s->kind == STEP_DDL && s->phase == 6) { /* sync trigger removal */
            if (pg_exec(ex->pg, s->sql) == PG_OK)
                sb_printf(&undone, "%s%s", undone.len ? "; " : "", s->summary);
        }
        if (s->undone_by_abort) {
            /* a resume must reinstall it before the backfill continues */
            char num[16];
            const char *p[2] = {ex->name, num};
            snprintf(num, sizeof(num), "%d", (int)i + 1);
            pg_run(
                ex->pg,
                "UPDATE convoy.steps SET status = 'pending' WHERE migration = $1 AND n = $2::int",
                2, p, NULL);
        }
        if (s->kind == STEP_INDEX) {
            char *st = index_state(ex, s);
            if (st && strcmp(st, "invalid") == 0 && drop_index_concurrently(ex, s))
                sb_printf(&undone, "%sdropped INVALID index %s", undone.len ? "; " : "",
                          s->index_name);
            free(st);
        }
    }
    state_set_status(ex->pg, ex->name, "aborted", "aborted by operator");
    {
        audit_entry_t e = {ex->name, 0,         "abort",
                           NULL,     NULL,      -1,
                           -1,       "aborted", undone.len ? undone.data : "nothing to undo"};
        state_audit(ex->pg, &e);
    }
    progress_line(ex->progress,
                  "convoy: migration %s aborted at a safe point. Undone: %s. Kept: columns, "
                  "defaults, constraints and indexes already completed, and backfilled values; "
                  "convoy apply resumes from the checkpoint",
                  ex->name, undone.len ? undone.data : "nothing");
    sb_free(&undone);
    return EXIT_ABORTED;
}

int
exec_run(exec_t *ex)
{
    size_t total = ex->plan->n_steps;

    for (size_t i = 0; i < total; i++) {
        const step_t *s = &ex->plan->steps[i];
        int n = (int)i + 1, rc;

        if (ex->status[i] && strcmp(ex->status[i], "done") == 0)
            continue;
        if (ex->stop_flag && *ex->stop_flag) {
            progress_line(ex->progress,
                          "convoy: interrupted before step %d; run convoy apply "
                          "again to resume",
                          n);
            return EXIT_ABORTED;
        }
        if (!lease_renew(ex->pg, ex->lease)) {
            progress_line(ex->progress, "convoy: lost the lease to another convoy process");
            return EXIT_BUSY;
        }
        if (abort_requested(ex))
            return exec_abort_cleanup(ex);
        log_set_context("migration=%s step=%d", ex->name, n);
        progress_line(ex->progress, "[%d/%zu] %s", n, total, s->summary);
        if (s->kind != STEP_BACKFILL && s->kind != STEP_INDEX && s->kind != STEP_DROP_INDEX &&
            s->kind != STEP_ORPHAN_CHECK) {
            rc = run_tx_step(ex, n, s);
        } else {
            state_mark_step(ex->pg, ex->name, n, "running", -1, -1, NULL);
            switch (s->kind) {
            case STEP_BACKFILL:
                rc = run_backfill_step(ex, n, s);
                break;
            case STEP_INDEX:
                rc = run_index_step(ex, n, s);
                break;
            case STEP_DROP_INDEX:
                rc = run_drop_index_step(ex, n, s);
                break;
            default:
                rc = run_orphan_check(ex, n, s);
                break;
            }
        }
        if (rc != EXIT_OK)
            return rc;
        free(ex->status[i]);
        ex->status[i] = xstrdup("done");
    }
    log_set_context("migration=%s", ex->name);
    return EXIT_OK;
}
