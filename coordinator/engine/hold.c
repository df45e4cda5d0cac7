/* hold.c: waiting at a gate point: operator pause, abort and stop requests, the gate. */
#include "convoy/hold.h"

#include "convoy/gates.h"
#include "convoy/log.h"
#include "convoy/risk.h"
#include "convoy/state.h"
#include "convoy/util.h"
#include "convoy/window.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOW_POLL_MS 1000
#include <time.h>

/* Two reasons are the same hold when they differ only in their figures. */
static bool
same_kind(const char *a, const char *b)
{
    while (*a && *b) {
        bool da = isdigit((unsigned char)*a) || *a == '.',
             db = isdigit((unsigned char)*b) || *b == '.';
        if (da && db) {
            while (isdigit((unsigned char)*a) || *a == '.')
                a++;
            while (isdigit((unsigned char)*b) || *b == '.')
                b++;
            continue;
        }
        if (*a != *b)
            return false;
        a++;
        b++;
    }
    return *a == *b;
}

static void
audit_hold(
    const hold_ctx_t *h, const gate_query_t *q, const char *action, const char *detail, int64_t ms)
{
    audit_entry_t a = {0};

    a.migration = h->name;
    a.step = q->step;
    a.action = action;
    a.duration_ms = ms;
    a.rows = -1;
    a.outcome = action;
    a.detail = detail;
    a.token = h->token;
    state_audit(h->pg, &a);
}

static void
emit_hold(const hold_ctx_t *h, const gate_query_t *q, const char *text)
{
    engine_event_t e = {0};

    e.kind = EVT_HOLD;
    e.migration = h->name;
    e.step = q->step;
    e.text = text;
    events_emit(h->events, &e);
}

static exec_result_t
lost(const hold_ctx_t *h)
{
    log_warn("holding %s: %s", h->name, pg_errmsg(h->pg));
    return pg_classify(pg_sqlstate(h->pg)) == PG_CONN_LOST ? XR_CONN_LOST : XR_FENCED;
}

/* A contract phase: is its expand migration's contract gate open? If not, why (for people). */
static bool
contract_open(const hold_ctx_t *h, const char *contract_of, char *why, size_t len)
{
    dgate_state_t g = DG_PENDING;
    json_t *reasons = NULL, *r;
    size_t i, off;

    if (!gates_evaluate(h->pg, contract_of, "contract", &g, &reasons)) {
        /* fail closed: a gate convoy cannot evaluate is not open */
        snprintf(why, len, "cannot evaluate the contract gate of %s: %s", contract_of,
                 json_array_size(reasons) ? json_string_value(json_array_get(reasons, 0))
                                          : pg_errmsg(h->pg));
        json_decref(reasons);
        return false;
    }
    if (g == DG_OPEN) {
        json_decref(reasons);
        return true;
    }
    off = (size_t)snprintf(why, len, "the contract gate of %s is %s", contract_of,
                           dgate_state_name(g));
    json_array_foreach(reasons, i, r)
    {
        if (off >= len)
            break;
        off +=
            (size_t)snprintf(why + off, len - off, "%s%s", i ? "; " : ": ", json_string_value(r));
    }
    json_decref(reasons);
    return false;
}

int64_t
hold_clock_now(void)
{
    static int64_t offset; /* CONVOY_NOW - the real clock at the first read (test only) */
    static bool read;
    const char *env;
    int64_t t;

    if (!read) {
        read = true;
        env = getenv("CONVOY_NOW");
        if (env && *env && window_parse_iso8601(env, &t))
            offset = t - (int64_t)time(NULL);
        else if (env && *env)
            log_warn("CONVOY_NOW='%s' is not an ISO 8601 time (2026-12-05T02:30:00Z): ignored",
                     env);
    }
    return (int64_t)time(NULL) + offset;
}

bool
hold_window_open(pg_t *pg, const plan_t *p, char *why, size_t len)
{
    window_t w;
    char err[512], at[64], in[64];
    risk_t r;
    sb_t tables;
    PGresult *res = NULL;
    int64_t bytes = -1, rows = -1, now, opens;
    const char *param[1];
    bool open;

    if (p->window == NULL)
        return true;
    if (!window_parse(p->window, &w, err, sizeof(err))) {
        snprintf(why, len, "the stored window cannot be read: %s", err); /* fail closed */
        return false;
    }
    /* the largest table the plan locks, now (the risk grows with it) */
    sb_init(&tables);
    sb_putc(&tables, '{');
    for (size_t i = 0; i < p->n_steps; i++)
        for (int k = 0; k < p->steps[i].n_locks; k++) {
            sb_printf(&tables, "%s\"", tables.len > 1 ? "," : "");
            for (const char *c = p->steps[i].locks[k].table; *c; c++) {
                if (*c == '"' || *c == '\\')
                    sb_putc(&tables, '\\');
                sb_putc(&tables, *c);
            }
            sb_putc(&tables, '"');
        }
    sb_putc(&tables, '}');
    param[0] = tables.data;
    if (pg_run(pg,
               "SELECT coalesce(max(pg_total_relation_size(c.oid)), -1), "
               "coalesce(max(c.reltuples)::bigint, -1) FROM unnest($1::text[]) t(name) "
               "JOIN pg_class c ON c.oid = to_regclass(t.name)",
               1, param, &res) == PG_OK &&
        PQntuples(res) == 1) {
        bytes = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        rows = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    }
    PQclear(res);
    sb_free(&tables);
    risk_assess(p, bytes, rows, NULL, &r);
    now = hold_clock_now();
    open = r.score < p->risk_threshold || window_contains(&w, now);
    if (!open) {
        opens = window_next_open(&w, now);
        window_format_time(&w, opens, at, sizeof(at));
        format_duration((opens - now) * 1000, in, sizeof(in));
        snprintf(why, len,
                 "outside the maintenance window \"%s\": risk %d >= %d (%s); it opens %s, in %s",
                 p->window, r.score, p->risk_threshold, r.n_reasons ? r.reasons[0] : "", at, in);
    }
    risk_free(&r);
    return open;
}

/* The lifecycle edge of a contract phase's wait (running <-> waiting); false when fenced. */
static bool
contract_edge(const hold_ctx_t *h, mig_event_t ev, const char *why, mig_status_t *st)
{
    mig_status_t to;
    transition_result_t tr = state_transition(h->pg, h->name, h->token, ev, why, &to);

    if (tr == TR_FENCED || tr == TR_ERROR)
        return false;
    *st = to;
    return true;
}

exec_result_t
hold_wait(const hold_ctx_t *h, gate_query_t *q, mig_status_t known)
{
    int64_t t0 = now_mono_ms(), last_write = 0;
    char why[512], held[512] = "";
    mig_status_t st = known;
    exec_result_t res = XR_OK;
    int asks = 0;
    const char *contract_of = h->plan ? h->plan->contract_of : NULL;
    /* the fleet's answers change every heartbeat; a window or a contract gate, which can
     * keep a migration waiting for hours, is evaluated (queries) once a second */
    int64_t poll = h->gate && h->gate->poll_ms > 0 ? h->gate->poll_ms : 100;
    bool slow = false;

    for (;;) {
        gate_verdict_t v = GATE_GO;
        int64_t now;

        if (run_ctl_stopped(h->ctl)) {
            res = XR_INTERRUPTED;
            break;
        }
        if (st == MIG_N_STATUS && !state_status(h->pg, h->name, &st)) {
            res = lost(h);
            break;
        }
        if (st == MIG_ABORTING) {
            res = XR_ABORT;
            break;
        }
        why[0] = '\0';
        slow = false;
        if (st == MIG_PAUSED) {
            snprintf(why, sizeof(why), "paused by request (convoy resume %s continues)", h->name);
            v = GATE_HOLD;
            t0 = now_mono_ms(); /* a bounded hold starts again after the operator resumes */
        } else if (h->plan && !hold_window_open(h->pg, h->plan, why, sizeof(why))) {
            v = GATE_HOLD;
            slow = true;
        } else if (contract_of && !contract_open(h, contract_of, why, sizeof(why))) {
            v = GATE_HOLD;
            slow = true;
            if (st == MIG_RUNNING && !contract_edge(h, EV_GATE_WAIT, why, &st)) {
                res = lost(h);
                break;
            }
        } else {
            if (st == MIG_WAITING && !contract_edge(h, EV_GATE_OPEN, NULL, &st)) {
                res = lost(h);
                break;
            }
            if (h->gate) {
                q->held_ms = now_mono_ms() - t0;
                v = h->gate->ask(h->gate->ud, q, why, sizeof(why));
            }
        }
        if (v == GATE_GO)
            break;
        if (v == GATE_ABORT) {
            /* health_action = abort: the second check failed too; abort as an operator would */
            mig_status_t to;
            char *detail = xasprintf("health did not recover within health_grace: %s", why);
            transition_result_t tr =
                state_transition(h->pg, h->name, h->token, EV_ABORT_REQUEST, detail, &to);
            free(detail);
            if (tr == TR_FENCED || tr == TR_ERROR) {
                res = lost(h);
                break;
            }
            log_warn("%s: aborting: %s", h->name, why);
            res = XR_ABORT;
            break;
        }
        if (v == GATE_PAUSE) {
            mig_status_t to;
            transition_result_t tr =
                state_transition(h->pg, h->name, h->token, EV_HOLD_EXPIRED, why, &to);
            if (tr == TR_FENCED || tr == TR_ERROR) {
                res = lost(h);
                break;
            }
            st = to;
        }
        now = now_mono_ms();
        /* a hold the next ask already clears (a replay or a readers answer that is one
         * heartbeat away) is routine: only one that outlasts it is recorded and audited */
        if (++asks < 2 && v == GATE_HOLD && st != MIG_PAUSED) {
            if (!run_ctl_sleep(h->ctl, slow && poll < SLOW_POLL_MS ? SLOW_POLL_MS : poll)) {
                res = XR_INTERRUPTED;
                break;
            }
            st = MIG_N_STATUS;
            continue;
        }
        if (held[0] == '\0' || !same_kind(held, why) || now - last_write >= 1000) {
            char *line = xasprintf("%s: %s",
                                   v == GATE_PAUSE || st == MIG_PAUSED ? "paused"
                                   : st == MIG_WAITING                 ? "waiting"
                                                                       : "holding",
                                   why);
            bool changed = held[0] == '\0' || !same_kind(held, why);
            if (!state_set_hold(h->pg, h->name, h->token, line)) {
                free(line);
                res = lost(h);
                break;
            }
            if (changed) {
                audit_hold(h, q, "hold", line, -1);
                log_info("%s", line);
            }
            emit_hold(h, q, line);
            snprintf(held, sizeof(held), "%s", why);
            last_write = now;
            free(line);
        }
        if (!run_ctl_sleep(h->ctl, slow && poll < SLOW_POLL_MS ? SLOW_POLL_MS : poll)) {
            res = XR_INTERRUPTED;
            break;
        }
        st = MIG_N_STATUS;
    }
    if (held[0] != '\0' && (res == XR_OK || res == XR_ABORT || res == XR_INTERRUPTED)) {
        char *detail = xasprintf("held: %s", held);
        state_set_hold(h->pg, h->name, h->token, NULL);
        audit_hold(h, q, "release", detail, now_mono_ms() - t0);
        emit_hold(h, q, "");
        free(detail);
    }
    return res;
}
