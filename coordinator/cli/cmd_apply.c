/* cmd_apply.c: `convoy apply FILE`: plan (or resume the stored plan) and execute it. */
#include "cli.h"
#include "convoy/catalog.h"
#include "convoy/executor.h"
#include "convoy/lease.h"
#include "convoy/state.h"
#include "convoy/util.h"

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEAD_HOLDER_WAIT_MS 30000

static volatile int stop_requested;

static void
on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

char *
cli_actor(void)
{
    char host[256] = "unknown-host";
    const struct passwd *pw = getpwuid(getuid());
    const char *user = pw ? pw->pw_name : getenv("USER");

    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    return xasprintf("%s@%s pid %ld", user && *user ? user : "unknown", host, (long)getpid());
}

/* True when the holder string names a process on this host that no longer exists. */
static bool
holder_is_dead_local(const char *desc)
{
    char host[256] = "";
    const char *at, *pidp;
    char *needle;
    long pid;
    bool dead = false;

    if (desc == NULL || gethostname(host, sizeof(host) - 1) != 0)
        return false;
    needle = xasprintf("@%s pid ", host);
    at = strstr(desc, needle);
    if (at) {
        pidp = at + strlen(needle);
        pid = strtol(pidp, NULL, 10);
        dead = pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
    }
    free(needle);
    return dead;
}

static void
print_note_list(
    const char *file, const char *kind, const char *fix_label, const plan_note_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fprintf(stderr, "convoy: %s:%d: %s: %s\n", file, v[i].line, kind, v[i].message);
        if (v[i].fix)
            fprintf(stderr, "  %s: %s\n", fix_label, v[i].fix);
    }
}

static void
print_notes(const char *file, const plan_t *p)
{
    print_note_list(file, "error", "fix", p->errors, p->n_errors);
    print_note_list(file, "refused", "safe alternative", p->refusals, p->n_refusals);
    print_note_list(file, "warning", "hint", p->warnings, p->n_warnings);
}

/*
 * (Re)reads the migration's row into *row. False (with *rc set) when apply must stop: the
 * state cannot be read, the migration was started from a different file (refused), or it
 * is already done (a no-op).
 */
static bool
may_continue(pg_t *pg,
             const cli_opts_t *o,
             const migration_t *m,
             mig_row_t *row,
             bool *found,
             progress_t *prog,
             int *rc,
             const char **final_status)
{
    mig_row_free(row);
    if (!state_load_migration(pg, m->name, row, found)) {
        fprintf(stderr, "convoy: reading migration state: %s\n", pg_errmsg(pg));
        return false;
    }
    if (!*found)
        return true;
    if (strcmp(row->checksum, m->checksum) != 0) {
        fprintf(stderr,
                "convoy: %s: migration \"%s\" was already started from a different file "
                "(checksum %.12s, this file %.12s). A migration's file must not change once "
                "applied: put the change in a new file, or give it a new -- convoy:name\n",
                o->file, m->name, row->checksum, m->checksum);
        *rc = EXIT_ERROR;
        *final_status = "invalid";
        return false;
    }
    if (strcmp(row->status, "done") == 0) {
        progress_line(prog, "convoy: migration %s is already applied; nothing to do", m->name);
        *rc = EXIT_OK;
        *final_status = "done";
        return false;
    }
    return true;
}

static int
finish(const cli_opts_t *o, const char *name, const char *status, int rc, json_t *report)
{
    if (o->json) {
        json_t *out =
            json_pack("{s:s, s:s, s:i}", "migration", name, "status", status, "exit_code", rc);
        json_object_set_new(out, "steps", report ? json_incref(report) : json_array());
        cli_print_json(out);
    }
    return rc;
}

int
cmd_apply(const cli_opts_t *o)
{
    migration_t m;
    facts_t facts = {0};
    plan_t plan = {0}, stored = {0};
    pg_t *pg = NULL;
    char *err = NULL, *actor = NULL, *holder_desc = NULL;
    char **status = NULL;
    mig_row_t row = {0};
    lease_t lease = {0};
    progress_t prog;
    exec_t ex = {0};
    bool found = false, have_lease = false;
    const char *final_status = "failed";
    int rc = EXIT_ERROR;
    struct sigaction sa;

    if (!cli_load_migration(o->file, &m))
        return finish(o, "", "invalid", EXIT_ERROR, NULL);
    progress_init(&prog, o->quiet || o->json);
    pg = pg_connect(o->db, &err);
    if (pg == NULL) {
        fprintf(stderr, "convoy: cannot connect to the database: %s\n", err);
        goto done;
    }
    actor = cli_actor();
    state_set_actor(actor);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (!may_continue(pg, o, &m, &row, &found, &prog, &rc, &final_status))
        goto done;
    if (!found) {
        if (!catalog_fetch(pg, &m, &facts, &err)) {
            fprintf(stderr, "convoy: %s\n", err);
            goto done;
        }
        plan_build(&m, &facts, &plan);
        print_notes(o->file, &plan);
        if (plan.n_errors > 0 || plan.n_refusals > 0) {
            rc = plan.n_errors > 0 ? EXIT_ERROR : EXIT_REFUSED;
            fprintf(stderr, "convoy: %s: nothing was changed\n", o->file);
            final_status = plan.n_errors > 0 ? "invalid" : "refused";
            goto done;
        }
        if (!state_ensure_schema(pg, &err)) {
            fprintf(stderr, "convoy: %s\n", err);
            goto done;
        }
    }

    /* Exactly one process drives a migration. */
    {
        int64_t wait_start = now_mono_ms();
        for (;;) {
            lease_result_t lr = lease_acquire(pg, m.name, actor, &lease, &holder_desc);
            if (lr == LEASE_ACQUIRED) {
                have_lease = true;
                break;
            }
            if (lr == LEASE_ERROR) {
                fprintf(stderr, "convoy: acquiring the lease: %s\n", pg_errmsg(pg));
                goto done;
            }
            if (holder_is_dead_local(holder_desc) &&
                now_mono_ms() - wait_start < DEAD_HOLDER_WAIT_MS && !stop_requested) {
                struct timespec ts = {0, 200 * 1000000L};
                if (now_mono_ms() - wait_start < 250)
                    progress_line(&prog,
                                  "    waiting: the previous holder %s has exited; waiting for its "
                                  "database session to end",
                                  holder_desc);
                free(holder_desc);
                holder_desc = NULL;
                nanosleep(&ts, NULL);
                continue;
            }
            fprintf(stderr,
                    "convoy: migration %s is being applied by another convoy process: held by "
                    "%s. Watch it with `convoy status %s`; stop it with `convoy abort %s`\n",
                    m.name, holder_desc, m.name, m.name);
            rc = EXIT_BUSY;
            final_status = "busy";
            goto done;
        }
    }
    if (!may_continue(pg, o, &m, &row, &found, &prog, &rc, &final_status))
        goto done;
    if (!found) {
        if (!state_create_migration(pg, m.name, m.checksum, &plan, actor)) {
            fprintf(stderr, "convoy: recording the plan: %s\n", pg_errmsg(pg));
            goto done;
        }
        progress_line(&prog, "convoy: applying %s: %zu steps (%s)", m.name, plan.n_steps,
                      plan.server_desc ? plan.server_desc : "");
    } else {
        progress_line(&prog, "convoy: resuming %s (was %s at step %d of %d)", m.name, row.status,
                      row.current_step, row.n_steps);
    }
    if (!state_load_steps(pg, m.name, &stored, &status)) {
        fprintf(stderr, "convoy: reading the stored plan: %s\n", pg_errmsg(pg));
        goto done;
    }
    state_set_status(pg, m.name, "running", NULL);
    {
        audit_entry_t e = {m.name,    0,      found ? "resume" : "apply", NULL, NULL, -1, -1,
                           "started", o->file};
        state_audit(pg, &e);
    }

    ex.pg = pg;
    ex.name = m.name;
    ex.plan = &stored;
    ex.status = status;
    ex.lease = &lease;
    ex.progress = &prog;
    retry_policy_default(&ex.retry);
    ex.lock_timeout_ms = m.lock_timeout_ms ? m.lock_timeout_ms : PLAN_DEFAULT_LOCK_TIMEOUT_MS;
    ex.statement_timeout_ms =
        m.statement_timeout_ms ? m.statement_timeout_ms : PLAN_DEFAULT_STATEMENT_TIMEOUT_MS;
    ex.batch_target_ms = m.batch_target_ms ? m.batch_target_ms : PLAN_DEFAULT_BATCH_TARGET_MS;
    ex.stop_flag = &stop_requested;
    ex.report = json_array();
    rc = exec_run(&ex);
    if (rc == EXIT_OK) {
        audit_entry_t e = {m.name, 0, "apply", NULL, NULL, -1, -1, "done", NULL};
        state_set_status(pg, m.name, "done", NULL);
        state_audit(pg, &e);
        progress_line(&prog, "convoy: migration %s applied", m.name);
        final_status = "done";
    } else {
        final_status = rc == EXIT_ABORTED        ? "aborted"
                       : rc == EXIT_PRECONDITION ? "blocked"
                       : rc == EXIT_BUSY         ? "busy"
                                                 : "failed";
    }
done:
    if (have_lease)
        lease_release(pg, &lease);
    rc = finish(o, m.name ? m.name : "", final_status, rc, ex.report);
    json_decref(ex.report);
    for (size_t i = 0; status && i < stored.n_steps; i++)
        free(status[i]);
    free(status);
    plan_free(&stored);
    plan_free(&plan);
    facts_free(&facts);
    mig_row_free(&row);
    pg_close(&pg);
    free(err);
    free(actor);
    free(holder_desc);
    migration_free(&m);
    return rc;
}
