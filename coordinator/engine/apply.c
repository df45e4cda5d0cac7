/* apply.c: the engine API: plan (or resume) and execute a migration; abort one. */
#include "convoy/catalog.h"
#include "convoy/engine.h"
#include "convoy/executor.h"
#include "convoy/lease.h"
#include "convoy/log.h"
#include "convoy/state.h"
#include "convoy/util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *
engine_result_name(engine_result_t r)
{
    static const char *const names[] = {
        "done",    "noop",        "invalid", "refused",   "busy",          "locked", "blocked",
        "aborted", "interrupted", "failed",  "not_found", "still_running", "error",  "submitted"};
    return (size_t)r < sizeof(names) / sizeof(names[0]) ? names[r] : "unknown";
}

void
engine_outcome_free(engine_outcome_t *o)
{
    free(o->status);
    free(o->message);
    free(o->fix);
    free(o->kept);
    free(o->undone);
    memset(o, 0, sizeof(*o));
}

static void
outcome(engine_outcome_t *o, engine_result_t r, char *message, char *fix)
{
    o->result = r;
    free(o->message);
    free(o->fix);
    o->message = message;
    o->fix = fix;
}

static void
set_final_status(engine_outcome_t *o, mig_status_t s)
{
    free(o->status);
    o->status = xstrdup(mig_status_name(s));
}

static void
emit_notes(
    const engine_events_t *ev, const char *name, const char *kind, const plan_note_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        engine_event_t e = {0};
        e.kind = EVT_NOTE;
        e.migration = name;
        e.note_kind = kind;
        e.note = &v[i];
        events_emit(ev, &e);
    }
}

/* True when the holder string names a process on this host that no longer exists. */
static bool
holder_is_dead_local(const char *desc)
{
    char host[256] = "";
    const char *at;
    char *needle;
    bool dead = false;

    if (desc == NULL || gethostname(host, sizeof(host) - 1) != 0)
        return false;
    needle = xasprintf("@%s pid ", host);
    at = strstr(desc, needle);
    if (at) {
        long pid = strtol(at + strlen(needle), NULL, 10);
        dead = pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
    }
    free(needle);
    return dead;
}

/* A standby has the convoy schema too (replicated), but nothing can be written there. */
static bool
require_primary(pg_t *pg, engine_outcome_t *out)
{
    char *v = pg_value(pg, "SELECT pg_is_in_recovery()", 0, NULL);
    bool standby = v && v[0] == 't';

    free(v);
    if (standby)
        outcome(out, RES_INVALID,
                xstrdup("this server is a read-only standby (in recovery); connect convoy to the "
                        "primary"),
                NULL);
    return !standby;
}

/*
 * Connects for a command: the primary only, the cancel handle published to ctl, the actor
 * recorded for the audit log. NULL (with *out filled) when convoy cannot work there.
 */
static pg_t *
engine_connect(const char *conninfo, const char *actor, run_ctl_t *ctl, engine_outcome_t *out)
{
    char *err = NULL;
    pg_t *pg;

    memset(out, 0, sizeof(*out));
    pg = pg_connect(conninfo, &err);
    if (pg == NULL) {
        outcome(out, RES_ERROR, xasprintf("cannot connect to the database: %s", err), NULL);
        free(err);
        return NULL;
    }
    if (!require_primary(pg, out)) {
        pg_close(&pg);
        return NULL;
    }
    if (ctl)
        ctl->cancel = pg->cancel;
    state_set_actor(actor);
    return pg;
}

/* A contract file names the migration it is the contract of: that one must be recorded here. */
static bool
contract_of_known(pg_t *pg, const migration_t *m, engine_outcome_t *out)
{
    const char *p[1] = {m->contract_of};
    char *v;
    bool known;

    if (m->contract_of == NULL)
        return true;
    v = pg_value(pg,
                 "SELECT CASE WHEN to_regclass('convoy.migrations') IS NULL THEN 'f' ELSE "
                 "(SELECT count(*) > 0 FROM convoy.migrations WHERE name = $1)::text END",
                 1, p);
    known = v && v[0] == 't';
    free(v);
    if (!known)
        outcome(out, RES_INVALID,
                xasprintf("%s: `-- convoy:contract %s`: no migration %s is recorded in this "
                          "database; nothing was changed",
                          m->path, m->contract_of, m->contract_of),
                xasprintf("apply the expand migration %s first (convoy apply), or name the right "
                          "one",
                          m->contract_of));
    return known;
}

/* Takes the lease, waiting a little for the session of a local holder that just died. */
static engine_result_t
take_lease(pg_t *pg,
           const char *name,
           const char *actor,
           int64_t wait_ms,
           run_ctl_t *ctl,
           const engine_events_t *ev,
           lease_t *lease,
           engine_outcome_t *out)
{
    int64_t start = now_mono_ms();
    bool said = false;

    for (;;) {
        char *desc = NULL;
        lease_result_t lr = lease_acquire(pg, name, actor, lease, &desc);
        if (lr == LEASE_ACQUIRED)
            return RES_DONE;
        if (lr == LEASE_ERROR) {
            outcome(out, RES_ERROR, xasprintf("acquiring the lease: %s", pg_errmsg(pg)), NULL);
            return RES_ERROR;
        }
        if (holder_is_dead_local(desc) && now_mono_ms() - start < wait_ms &&
            !run_ctl_stopped(ctl)) {
            if (!said)
                events_line(ev, EVT_WAIT, name, 0,
                            "    waiting: the previous driver %s has exited; waiting for its "
                            "database session to end",
                            desc);
            said = true;
            free(desc);
            run_ctl_sleep(ctl, 200);
            continue;
        }
        outcome(out, RES_BUSY,
                xasprintf("migration %s is being applied by another convoy process: held by %s",
                          name, desc),
                xasprintf("watch it with `convoy status %s`; stop it with `convoy abort %s`", name,
                          name));
        free(desc);
        return RES_BUSY;
    }
}

/* Ends a stop short of done: removes convoy's helpers, then records the transition. */
static void
stop_short(exec_t *ex, mig_event_t event, engine_outcome_t *out)
{
    sb_t undone, kept;
    mig_status_t to;
    exec_result_t ur;

    sb_init(&undone);
    sb_init(&kept);
    ur = exec_undo(ex, &undone, &kept);
    if (ur == XR_FENCED || ur == XR_CONN_LOST) {
        out->kept = xstrdup(kept.len ? kept.data : "unknown: the driver lost the database");
    } else {
        const char *detail =
            event == EV_ABORT_DONE ? (undone.len ? undone.data : "nothing to undo") : ex->error;
        if (kept.len && event == EV_ABORT_DONE) {
            /* an abort that could not remove everything stays 'aborting': run it again */
            out->kept = xstrdup(kept.data);
        } else {
            state_transition(ex->pg, ex->name, ex->lease->token, event, detail, &to);
            set_final_status(out, to);
            if (kept.len)
                out->kept = xstrdup(kept.data);
        }
    }
    if (undone.len)
        out->undone = xstrdup(undone.data);
    if (undone.len && event != EV_ABORT_DONE) {
        /* the undo reopened steps: say where a rerun really starts */
        for (size_t i = 0; i < ex->plan->n_steps; i++) {
            if (ex->status[i] && strcmp(ex->status[i], "done") != 0) {
                char *fix = xasprintf("%s (after the cause is fixed, convoy apply starts again "
                                      "at step %zu: what was removed is redone)",
                                      out->fix ? out->fix : "correct the cause", i + 1);
                free(out->fix);
                out->fix = fix;
                break;
            }
        }
    }
    sb_free(&undone);
    sb_free(&kept);
}

static void
copy_failure(const exec_t *ex, engine_outcome_t *out, engine_result_t r)
{
    const step_t *s = ex->failed_step ? &ex->plan->steps[ex->failed_step - 1] : NULL;
    outcome(out, r, ex->error ? xstrdup(ex->error) : NULL, ex->fix ? xstrdup(ex->fix) : NULL);
    out->step = ex->failed_step;
    out->line = s ? s->line : 0;
}

/* With the lease held: runs (or finishes) the migration from its stored plan. */
static void
drive(pg_t *pg,
      const char *name,
      const char *file,
      const lease_t *lease,
      run_ctl_t *ctl,
      const engine_events_t *ev,
      const engine_gate_t *gate,
      bool aborting,
      engine_outcome_t *out)
{
    plan_t stored;
    char **status = NULL;
    char *err = NULL;
    exec_t ex = {0};
    exec_result_t xr;
    mig_status_t to;

    if (!state_load_plan(pg, name, &stored, &status, &err)) {
        outcome(out, RES_ERROR, err, NULL);
        goto done;
    }
    if (stored.search_path) {
        /* the file's SET search_path holds for every step, as it would under psql */
        char *sp = xasprintf("SET search_path = %s", stored.search_path);
        pg_status_t st = pg_exec(pg, sp);
        free(sp);
        if (st != PG_OK) {
            outcome(out, RES_ERROR,
                    xasprintf("the file's SET search_path failed: %s", pg_errmsg(pg)), NULL);
            goto done;
        }
    }
    ex.pg = pg;
    ex.name = name;
    ex.file = file;
    ex.plan = &stored;
    ex.status = status;
    ex.lease = lease;
    ex.ctl = ctl;
    ex.events = ev;
    ex.gate = gate;
    xr = aborting ? XR_ABORT : exec_run(&ex);
    switch (xr) {
    case XR_OK:
        /* the namespace bumps and pattern purges, once everything is in place */
        if (!state_outbox_add(pg, name, lease->token, "bump", stored.cache_bump,
                              stored.n_cache_bump) ||
            !state_outbox_add(pg, name, lease->token, "purge", stored.cache_purge,
                              stored.n_cache_purge)) {
            outcome(out, RES_ERROR, xasprintf("queueing cache invalidations: %s", pg_errmsg(pg)),
                    NULL);
        } else if (state_transition(pg, name, lease->token, EV_COMPLETE, NULL, &to) == TR_OK) {
            set_final_status(out, to);
            outcome(out, RES_DONE, NULL, NULL);
        } else {
            outcome(out, RES_ERROR, xasprintf("recording completion: %s", pg_errmsg(pg)), NULL);
        }
        break;
    case XR_ABORT:
        stop_short(&ex, EV_ABORT_DONE, out);
        outcome(out, out->kept && out->status == NULL ? RES_STILL_RUNNING : RES_ABORTED,
                out->kept && out->status == NULL
                    ? xasprintf("the abort could not remove everything yet: %s", out->kept)
                    : xasprintf("migration %s aborted at a safe point", name),
                xasprintf("convoy apply resumes it; convoy abort %s retries the cleanup", name));
        break;
    case XR_INTERRUPTED: {
        sb_t in_place;
        sb_init(&in_place);
        exec_in_place(&ex, &in_place);
        if (in_place.len)
            out->kept = xstrdup(in_place.data);
        sb_free(&in_place);
        if (state_transition(pg, name, lease->token, EV_INTERRUPT, "stopped by a signal", &to) ==
            TR_OK)
            set_final_status(out, to);
        outcome(
            out, RES_INTERRUPTED,
            xasprintf("interrupted at a consistent point; everything done so far is kept"),
            xasprintf("convoy apply resumes it; convoy abort %s removes convoy's helpers", name));
        break;
    }
    case XR_FENCED:
        outcome(out, RES_BUSY,
                xasprintf("another convoy process took the lease of %s over; this one stopped "
                          "without writing again",
                          name),
                NULL);
        break;
    case XR_CONN_LOST:
        copy_failure(&ex, out, RES_ERROR);
        break;
    case XR_BLOCKED:
    case XR_FAILED:
    case XR_LOCKED:
        copy_failure(&ex, out,
                     xr == XR_BLOCKED  ? RES_BLOCKED
                     : xr == XR_LOCKED ? RES_LOCKED
                                       : RES_FAILED);
        stop_short(&ex, xr == XR_BLOCKED ? EV_BLOCK : EV_FAIL, out);
        break;
    }
done:
    exec_clear(&ex);
    strv_free(status, stored.n_steps);
    plan_free(&stored);
}

void
engine_apply(const apply_req_t *req,
             run_ctl_t *ctl,
             const engine_events_t *ev,
             engine_outcome_t *out)
{
    const migration_t *m = req->m;
    facts_t facts = {0};
    plan_t plan = {0};
    pg_t *pg;
    char *err = NULL;
    mig_row_t row = {0};
    lease_t lease = {0};
    bool found = false;
    mig_status_t to;

    if ((pg = engine_connect(req->conninfo, req->actor, ctl, out)) == NULL)
        return;
    for (int pass = 0; pass < 2; pass++) {
        /* pass 0 before the lease, pass 1 after: another driver may have moved on */
        mig_row_free(&row);
        if (!state_load_migration(pg, m->name, &row, &found)) {
            outcome(out, RES_ERROR, xasprintf("reading migration state: %s", pg_errmsg(pg)), NULL);
            goto done;
        }
        if (found && strcmp(row.checksum, m->checksum) != 0) {
            outcome(out, RES_INVALID,
                    xasprintf("migration \"%s\" was already started from a different file "
                              "(checksum %.12s, this file %.12s)",
                              m->name, row.checksum, m->checksum),
                    xstrdup("a migration's file must not change once applied: put the change "
                            "in a new file, or give it a new -- convoy:name"));
            goto done;
        }
        if (found && row.status == MIG_DONE) {
            set_final_status(out, MIG_DONE);
            outcome(out, RES_NOOP,
                    xasprintf("migration %s is already applied; nothing to do", m->name), NULL);
            goto done;
        }
        if (found && req->submit_only) {
            /* already recorded: the caller follows it */
            set_final_status(out, row.status);
            outcome(out, RES_SUBMITTED, NULL, NULL);
            goto done;
        }
        if (pass == 1)
            break;
        if (!found) {
            if (!catalog_fetch(pg, m, &facts, &err)) {
                outcome(out, RES_INVALID, err, NULL);
                err = NULL;
                goto done;
            }
            plan_build(m, &facts, &plan);
            if (!contract_of_known(pg, m, out))
                goto done;
            emit_notes(ev, m->name, "error", plan.errors, plan.n_errors);
            emit_notes(ev, m->name, "refused", plan.refusals, plan.n_refusals);
            emit_notes(ev, m->name, "warning", plan.warnings, plan.n_warnings);
            if (plan.n_errors > 0 || plan.n_refusals > 0) {
                outcome(out, plan.n_errors ? RES_INVALID : RES_REFUSED,
                        xasprintf("%s: nothing was changed", req->file), NULL);
                goto done;
            }
        }
        if (!state_ensure_schema(pg, &err)) {
            outcome(out, RES_ERROR, err, NULL);
            err = NULL;
            goto done;
        }
        if (take_lease(pg, m->name, req->actor, req->dead_holder_wait_ms, ctl, ev, &lease, out) !=
            RES_DONE)
            goto done;
    }
    if (!found && req->submit_only) {
        if (!state_create_migration(pg, m->name, m->checksum, &plan, lease.token, req->file) ||
            !state_set_source(pg, m->name, lease.token, req->cluster, req->source)) {
            outcome(out, RES_ERROR, xasprintf("recording the plan: %s", pg_errmsg(pg)), NULL);
            goto done;
        }
        pg_exec(pg, "NOTIFY convoy, 'submit'");
        set_final_status(out, MIG_SUBMITTED);
        outcome(out, RES_SUBMITTED, NULL, NULL);
        events_line(ev, EVT_INFO, m->name, 0, "convoy: submitted %s: %zu steps (%s)", m->name,
                    plan.n_steps, plan.server_desc ? plan.server_desc : "");
        goto done;
    }
    if (!found) {
        if (!state_create_migration(pg, m->name, m->checksum, &plan, lease.token, req->file) ||
            (req->source &&
             !state_set_source(pg, m->name, lease.token, req->cluster, req->source)) ||
            state_transition(pg, m->name, lease.token, EV_START, req->file, &to) != TR_OK) {
            outcome(out, RES_ERROR, xasprintf("recording the plan: %s", pg_errmsg(pg)), NULL);
            goto done;
        }
        events_line(ev, EVT_INFO, m->name, 0, "convoy: applying %s: %zu steps (%s)", m->name,
                    plan.n_steps, plan.server_desc ? plan.server_desc : "");
    } else if (row.status == MIG_ABORTING) {
        events_line(ev, EVT_INFO, m->name, 0,
                    "convoy: %s is being aborted; finishing the abort first", m->name);
        drive(pg, m->name, req->file, &lease, ctl, ev, req->gate, true, out);
        goto done;
    } else {
        transition_result_t tr =
            state_transition(pg, m->name, lease.token,
                             row.status == MIG_SUBMITTED ? EV_START : EV_RESUME, req->file, &to);
        if (tr != TR_OK) {
            outcome(out, RES_ERROR,
                    xasprintf("cannot resume %s from status %s: %s", m->name,
                              mig_status_name(row.status),
                              tr == TR_NO_EDGE ? "the lifecycle has no such edge" : pg_errmsg(pg)),
                    NULL);
            goto done;
        }
        events_line(ev, EVT_INFO, m->name, 0, "convoy: resuming %s (was %s at step %d of %d)%s%s",
                    m->name, mig_status_name(row.status), row.current_step, row.n_steps,
                    lease.previous ? "; took over from " : "",
                    lease.previous ? lease.previous : "");
    }
    drive(pg, m->name, req->file, &lease, ctl, ev, req->gate, false, out);
done:
    if (ctl)
        ctl->cancel = NULL;
    if (lease.migration)
        lease_release(pg, &lease);
    plan_free(&plan);
    facts_free(&facts);
    mig_row_free(&row);
    pg_close(&pg);
    free(err);
}

void
engine_abort(const abort_req_t *req,
             run_ctl_t *ctl,
             const engine_events_t *ev,
             engine_outcome_t *out)
{
    pg_t *pg;
    char *err = NULL, *desc = NULL;
    mig_row_t row = {0};
    bool found = false;
    lease_t lease = {0};
    mig_status_t to;
    transition_result_t tr;

    if ((pg = engine_connect(req->conninfo, req->actor, ctl, out)) == NULL)
        return;
    if (!state_load_migration(pg, req->name, &row, &found)) {
        outcome(out, RES_ERROR, xasprintf("reading migration state: %s", pg_errmsg(pg)), NULL);
        goto done;
    }
    if (!found) {
        outcome(out, RES_NOT_FOUND, xasprintf("no migration named %s", req->name),
                xstrdup("list them with `convoy status`"));
        goto done;
    }
    if (row.status == MIG_DONE || row.status == MIG_ABORTED) {
        set_final_status(out, row.status);
        outcome(out, row.status == MIG_ABORTED ? RES_ABORTED : RES_INVALID,
                xasprintf("migration %s is already %s; nothing to abort", req->name,
                          mig_status_name(row.status)),
                NULL);
        goto done;
    }
    if (!state_ensure_schema(pg, &err)) {
        outcome(out, RES_ERROR, err, NULL);
        err = NULL;
        goto done;
    }
    tr = state_transition(pg, req->name, 0, EV_ABORT_REQUEST, "requested by operator", &to);
    if (tr != TR_OK && !(tr == TR_NO_EDGE && to == MIG_ABORTING)) {
        set_final_status(out, to);
        outcome(out, tr == TR_NO_EDGE ? RES_INVALID : RES_ERROR,
                xasprintf("cannot abort %s from status %s", req->name, mig_status_name(to)), NULL);
        goto done;
    }
    if (lease_acquire(pg, req->name, req->actor, &lease, &desc) == LEASE_ACQUIRED) {
        /* Nobody drives it: clean up here. */
        drive(pg, req->name, NULL, &lease, ctl, ev, NULL, true, out);
        goto done;
    }
    events_line(ev, EVT_INFO, req->name, 0,
                "convoy: asked %s to stop at the next safe point; waiting", desc);
    for (int64_t t0 = now_mono_ms(); now_mono_ms() - t0 < req->wait_ms;) {
        mig_status_t st;
        if (state_status(pg, req->name, &st) && st != MIG_ABORTING) {
            set_final_status(out, st);
            outcome(out, st == MIG_ABORTED ? RES_ABORTED : RES_STILL_RUNNING,
                    xasprintf("migration %s is now %s", req->name, mig_status_name(st)), NULL);
            goto done;
        }
        if (!run_ctl_sleep(ctl, 100))
            break;
    }
    set_final_status(out, MIG_ABORTING);
    outcome(out, RES_STILL_RUNNING,
            xasprintf("the driving process %s has not reached a safe point yet; it will stop "
                      "there",
                      desc),
            xasprintf("check with `convoy status %s`", req->name));
done:
    if (ctl)
        ctl->cancel = NULL;
    if (lease.migration)
        lease_release(pg, &lease);
    free(desc);
    mig_row_free(&row);
    pg_close(&pg);
    free(err);
}
