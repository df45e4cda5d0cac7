/* throttle.c: replica lag from the heartbeat ring, and the fleet's verdict (pure). */
#include "convoy/throttle.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void
hb_ring_reset(hb_ring_t *r)
{
    r->head = r->n = 0;
}

void
hb_ring_push(hb_ring_t *r, int64_t seq, int64_t at_ms)
{
    size_t i = (r->head + r->n) % HB_RING;

    if (r->n == HB_RING) {
        r->head = (r->head + 1) % HB_RING;
        i = (r->head + r->n - 1) % HB_RING;
    } else {
        r->n++;
    }
    r->seq[i] = seq;
    r->at_ms[i] = at_ms;
}

int64_t
hb_ring_lag_ms(const hb_ring_t *r, int64_t seen, int64_t now_ms)
{
    if (r->n == 0)
        return -1;
    for (size_t k = 0; k < r->n; k++) {
        size_t i = (r->head + k) % HB_RING;
        if (r->seq[i] > seen) /* the oldest heartbeat it has not replayed */
            return now_ms - r->at_ms[i];
    }
    return 0;
}

static void say(throttle_out_t *o, gate_verdict_t v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
say(throttle_out_t *o, gate_verdict_t v, const char *fmt, ...)
{
    va_list ap;

    o->verdict = v;
    va_start(ap, fmt);
    vsnprintf(o->why, sizeof(o->why), fmt, ap);
    va_end(ap);
}

static const char *
secs(int64_t ms, char *buf, size_t len)
{
    snprintf(buf, len, "%.1f s", (double)ms / 1000.0);
    return buf;
}

/* The checks that hold at every point: the fleet must be fully measurable. */
static bool
fleet_unmeasurable(const node_view_t *v, size_t n, const throttle_limits_t *lim, throttle_out_t *o)
{
    if (lim->flag_file) {
        say(o, GATE_HOLD, "flag file %s exists (remove it to continue)", lim->flag_file);
        return true;
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i].silent_ms < 0) {
            say(o, GATE_HOLD, "agent %s unknown: it has not connected", v[i].name);
            return true;
        }
        if (v[i].silent_ms > 3 * lim->heartbeat_ms) {
            say(o, GATE_HOLD, "agent %s unknown: silent for %lld ms (> 3 x %lld ms)", v[i].name,
                (long long)v[i].silent_ms, (long long)lim->heartbeat_ms);
            return true;
        }
        if (!v[i].db_ok) {
            say(o, GATE_HOLD, "%s %s: its agent cannot query the database (%s)",
                v[i].replica ? "replica"
                : v[i].cache ? "cache agent"
                             : "primary",
                v[i].name, v[i].db_error ? v[i].db_error : "no detail");
            return true;
        }
        if (v[i].cache && !v[i].redis_ok) {
            say(o, GATE_HOLD, "cache agent %s cannot reach Redis (%s); invalidations wait",
                v[i].name,
                v[i].redis_error && v[i].redis_error[0] ? v[i].redis_error : "no detail");
            return true;
        }
        if (v[i].replica && !v[i].in_recovery) {
            say(o, GATE_HOLD, "replica %s is not in recovery (promoted?)", v[i].name);
            return true;
        }
    }
    return false;
}

/* A health hold: hold; past health_grace, pause for an operator (or abort, health_action). */
static gate_verdict_t
health_verdict(const throttle_limits_t *lim, const throttle_query_t *q)
{
    if (q->held_ms <= lim->health_grace_ms)
        return GATE_HOLD;
    return lim->health_abort ? GATE_ABORT : GATE_PAUSE;
}

void
throttle_decide(const node_view_t *v,
                size_t n,
                const throttle_limits_t *lim,
                const throttle_query_t *q,
                throttle_out_t *o)
{
    const node_view_t *worst = NULL;
    char a[32], b[32];

    memset(o, 0, sizeof(*o));
    o->verdict = GATE_GO;
    if (fleet_unmeasurable(v, n, lim, o))
        return;
    if (q->point != GATE_AFTER_STEP) {
        /* the application's health: a rise holds; one that lasts the grace period pauses */
        for (size_t i = 0; i < n; i++) {
            if (!v[i].app || v[i].error_rate < 0 || v[i].error_rate <= lim->error_rate_limit)
                continue;
            say(o, health_verdict(lim, q), "app node %s error rate %.1f/s > %.1f/s%s", v[i].name,
                v[i].error_rate, lim->error_rate_limit,
                q->held_ms > lim->health_grace_ms ? " for longer than health_grace" : "");
            return;
        }
        /* ... and as the primary counts it: deadlocks, rolled-back transactions */
        for (size_t i = 0; i < n; i++) {
            bool dl, rb;
            if (v[i].replica || v[i].app || v[i].cache)
                continue;
            dl = lim->deadlock_rate_limit >= 0 && v[i].deadlock_rate > lim->deadlock_rate_limit;
            rb = lim->rollback_rate_limit >= 0 && v[i].rollback_rate > lim->rollback_rate_limit;
            if (!dl && !rb)
                continue;
            say(o, health_verdict(lim, q), "primary %s: %s %.1f/s > %.1f/s (pg_stat_database)%s",
                v[i].name, dl ? "deadlocks" : "rolled-back transactions",
                dl ? v[i].deadlock_rate : v[i].rollback_rate,
                dl ? lim->deadlock_rate_limit : lim->rollback_rate_limit,
                q->held_ms > lim->health_grace_ms ? " for longer than health_grace" : "");
            return;
        }
    }
    if (q->point == GATE_AFTER_STEP) {
        for (size_t i = 0; i < n; i++) {
            if (!v[i].replica || v[i].replay_lsn >= q->lsn)
                continue;
            say(o, q->held_ms > lim->replay_timeout_ms ? GATE_PAUSE : GATE_HOLD,
                "waiting for replica %s to replay step %d: at %X/%X, needs %X/%X%s%s", v[i].name,
                q->step, (unsigned)(v[i].replay_lsn >> 32), (unsigned)v[i].replay_lsn,
                (unsigned)(q->lsn >> 32), (unsigned)q->lsn,
                v[i].replay_paused ? " (replay is paused there)" : "",
                q->held_ms > lim->replay_timeout_ms ? " (replay_timeout passed)" : "");
            return;
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (!v[i].replica)
            continue;
        if (v[i].lag_ms < 0) {
            say(o, GATE_HOLD, "replica %s has not replayed a heartbeat yet", v[i].name);
            return;
        }
        if (worst == NULL || v[i].lag_ms > worst->lag_ms)
            worst = &v[i];
    }
    if (worst && worst->lag_ms > lim->max_lag_ms) {
        say(o, GATE_HOLD, "replica %s lag %s > %s%s", worst->name,
            secs(worst->lag_ms, a, sizeof(a)), secs(lim->max_lag_ms, b, sizeof(b)),
            worst->replay_paused ? " (replay is paused there)" : "");
        return;
    }
    if (q->point == GATE_BEFORE_BATCH) {
        /* pace, not stop-and-start: the closer to the limit, the longer the pause */
        if (worst && 2 * worst->lag_ms > lim->max_lag_ms) {
            double over = (double)(2 * worst->lag_ms - lim->max_lag_ms) / (double)lim->max_lag_ms;
            o->delay_ms = (int64_t)(over * 2.0 * (double)lim->heartbeat_ms);
        }
        return;
    }
    if (q->point == GATE_BEFORE_STEP && q->exclusive) {
        for (size_t i = 0; i < n; i++) {
            if (!v[i].replica)
                continue;
            if (!v[i].readers_known) {
                say(o, GATE_HOLD, "asking replica %s who reads %s", v[i].name, q->table);
                return;
            }
            if (v[i].n_readers > 0) {
                bool expired = q->held_ms > lim->reader_hold_ms;
                say(o, expired ? GATE_PAUSE : GATE_HOLD,
                    "replica %s has a %.0f s query on %s (pid %d)%s%s", v[i].name,
                    v[i].oldest_reader_age_s, q->table, v[i].oldest_reader_pid,
                    v[i].n_readers > 1 ? " and other readers" : "",
                    expired ? "; reader_hold passed" : "");
                return;
            }
        }
    }
}
