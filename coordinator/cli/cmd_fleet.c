/*
 * cmd_fleet.c: the commands of the fleet: `convoy coordinator`, `keygen`, `pause`,
 * `resume`, `set`, and following a migration submitted with `apply --cluster`. Control goes
 * through the database: each request is an audited lifecycle transition (or an audited
 * override) that the coordinator hears through LISTEN/NOTIFY.
 */
#include "cli.h"
#include "convoy/cluster.h"
#include "convoy/fsm.h"
#include "convoy/log.h"
#include "convoy/service.h"
#include "convoy/state.h"
#include "convoy/transport.h"
#include "convoy/util.h"
#include "progress.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
cli_resolve_cluster(cli_opts_t *o)
{
    const char *path = o->cluster;
    cluster_t cl;
    char *errors = NULL;

    if (path == NULL && o->db == NULL)
        path = getenv("CONVOY_CLUSTER");
    if (path == NULL || path[0] == '\0')
        return EXIT_OK;
    if (o->db != NULL && o->cluster != NULL) {
        fprintf(stderr, "convoy: give --db or --cluster, not both\n");
        return EXIT_USAGE;
    }
    if (!cluster_load(path, &cl, &errors)) {
        fprintf(stderr, "%s\n", errors);
        free(errors);
        return EXIT_ERROR;
    }
    o->cluster = path;
    o->cluster_db = xstrdup(cluster_primary(&cl)->conninfo);
    o->cluster_name = xstrdup(cl.name);
    o->db = o->cluster_db;
    cluster_free(&cl);
    return EXIT_OK;
}

int
cmd_coordinator(const cli_opts_t *o)
{
    service_opts_t so = {0};
    const char *config = o->config ? o->config : getenv("CONVOY_CLUSTER");

    if (config == NULL || config[0] == '\0') {
        fprintf(stderr, "convoy coordinator: give the cluster config with --config FILE (or set "
                        "$CONVOY_CLUSTER)\n");
        return EXIT_USAGE;
    }
    so.config = config;
    so.bind = o->bind;
    so.insecure = o->insecure;
    return service_run(&so);
}

int
cmd_keygen(const cli_opts_t *o)
{
    curve_keys_t k;
    char *err = NULL;

    if (o->out == NULL) {
        fprintf(stderr, "convoy keygen: give --out PREFIX (writes PREFIX.key and PREFIX.pub)\n");
        return EXIT_USAGE;
    }
    if (!keys_generate_files(o->out, &k, &err)) {
        fprintf(stderr, "convoy keygen: %s\n", err);
        free(err);
        return EXIT_ERROR;
    }
    printf("%s\n", k.public_z85);
    fprintf(stderr, "convoy: wrote %s.key (secret, mode 0600) and %s.pub\n", o->out, o->out);
    memset(&k, 0, sizeof(k));
    return EXIT_OK;
}

/* An operator request: one audited transition, heard by the coordinator at once. */
static int
request(const cli_opts_t *o, mig_event_t ev, const char *verb)
{
    pg_t *pg = cli_connect(o);
    char *actor = cli_actor();
    mig_status_t to = MIG_N_STATUS;
    transition_result_t tr;
    int rc = EXIT_OK;

    if (pg == NULL) {
        free(actor);
        return EXIT_ERROR;
    }
    state_set_actor(actor);
    tr = state_transition(pg, o->name, 0, ev, "requested by operator", &to);
    if (tr == TR_OK) {
        if (o->json)
            cli_print_json(json_pack("{s:s, s:s, s:s}", "migration", o->name, "request", verb,
                                     "status", mig_status_name(to)));
        else
            fprintf(stderr, "convoy: %s %s: now %s\n", verb, o->name, mig_status_name(to));
    } else if (tr == TR_NO_EDGE) {
        fprintf(stderr,
                "convoy: cannot %s %s: it is %s (`convoy fsm` lists what each status "
                "allows)\n",
                verb, o->name, mig_status_name(to));
        rc = EXIT_ERROR;
    } else {
        fprintf(stderr, "convoy: %s %s: %s\n", verb, o->name, pg_errmsg(pg));
        rc = EXIT_ERROR;
    }
    pg_close(&pg);
    free(actor);
    return rc;
}

int
cmd_pause(const cli_opts_t *o)
{
    return request(o, EV_PAUSE_REQUEST, "pause");
}

int
cmd_resume(const cli_opts_t *o)
{
    return request(o, EV_RESUME_REQUEST, "resume");
}

static const char *const settable[] = {"max-lag", "batch-target"};

int
cmd_set(const cli_opts_t *o)
{
    pg_t *pg;
    char *actor;
    int rc = EXIT_OK;

    /* every setting is checked before any is written */
    for (int i = 0; i < o->n_settings; i++) {
        const char *eq = strchr(o->settings[i], '=');
        int64_t ms;
        bool known = false;
        for (size_t k = 0; eq && k < sizeof(settable) / sizeof(settable[0]); k++)
            known |= strlen(settable[k]) == (size_t)(eq - o->settings[i]) &&
                     strncmp(settable[k], o->settings[i], (size_t)(eq - o->settings[i])) == 0;
        if (!eq || !known) {
            fprintf(stderr,
                    "convoy set: `%s`: write max-lag=DURATION or batch-target=DURATION (e.g. "
                    "max-lag=2s)\n",
                    o->settings[i]);
            return EXIT_USAGE;
        }
        if (!parse_duration_ms(eq + 1, &ms) || ms <= 0) {
            fprintf(stderr, "convoy set: `%s`: %s is not a duration (e.g. 500ms, 2s)\n",
                    o->settings[i], eq + 1);
            return EXIT_USAGE;
        }
    }
    if ((pg = cli_connect(o)) == NULL)
        return EXIT_ERROR;
    actor = cli_actor();
    state_set_actor(actor);
    for (int i = 0; i < o->n_settings && rc == EXIT_OK; i++) {
        const char *eq = strchr(o->settings[i], '=');
        char *key = xstrndup(o->settings[i], (size_t)(eq - o->settings[i]));
        if (!state_set_override(pg, o->name, key, eq + 1)) {
            fprintf(stderr, "convoy set: %s: %s\n", o->settings[i], pg_errmsg(pg));
            rc = EXIT_ERROR;
        } else if (!o->json) {
            fprintf(stderr, "convoy: set %s %s\n", o->name, o->settings[i]);
        }
        free(key);
    }
    if (rc == EXIT_OK && o->json)
        cli_print_json(json_pack("{s:s, s:b}", "migration", o->name, "applied", 1));
    pg_close(&pg);
    free(actor);
    return rc;
}

/* ---- following a submitted migration ------------------------------------------------ */

static volatile sig_atomic_t follow_stop;

static void
on_follow_signal(int sig)
{
    (void)sig;
    follow_stop = 1;
}

static int
exit_for_status(const char *st)
{
    if (strcmp(st, "done") == 0)
        return EXIT_OK;
    if (strcmp(st, "blocked") == 0)
        return EXIT_PRECONDITION;
    if (strcmp(st, "aborted") == 0)
        return EXIT_ABORTED;
    return EXIT_ERROR;
}

int
cli_follow(const cli_opts_t *o, const char *name, json_t **final)
{
    pg_t *pg = cli_connect(o);
    const char *p[1] = {name};
    progress_t prog;
    char last_status[32] = "", last_hold[512] = "";
    int last_step = -1, rc = EXIT_ERROR;
    int64_t t_prev = 0, rows_prev = -1, since_submit = now_mono_ms();
    double rate = 0;
    struct sigaction sa;

    if (pg == NULL)
        return EXIT_ERROR;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_follow_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    progress_init(&prog, o->quiet || final);
    while (!follow_stop) {
        PGresult *r = NULL;
        const char *st, *hold;
        int step, n_steps;
        int64_t done_rows, total, now = now_mono_ms();

        if (pg_run(pg,
                   "SELECT m.status, m.current_step, m.n_steps, coalesce(m.hold_reason, ''), "
                   "coalesce(m.error, ''), coalesce(b.rows_done, -1), coalesce(b.rows_total, -1), "
                   "coalesce((SELECT summary FROM convoy.steps s WHERE s.migration = m.name AND "
                   "s.n = m.current_step), ''), "
                   "(SELECT node || ' ' || lag_ms FROM convoy.fleet f WHERE f.cluster = m.cluster "
                   "AND f.role = 'replica' AND f.lag_ms IS NOT NULL AND f.seen_at > now() - "
                   "interval '5 s' ORDER BY lag_ms DESC LIMIT 1) "
                   "FROM convoy.migrations m LEFT JOIN LATERAL (SELECT rows_done, rows_total FROM "
                   "convoy.backfill WHERE migration = m.name AND step = m.current_step) b ON true "
                   "WHERE m.name = $1",
                   1, p, &r) != PG_OK ||
            PQntuples(r) != 1) {
            progress_finish(&prog);
            fprintf(stderr, "convoy: following %s: %s\n", name,
                    PQntuples(r) == 0 ? "it disappeared" : pg_errmsg(pg));
            PQclear(r);
            break;
        }
        st = PQgetvalue(r, 0, 0);
        {
            int64_t v;
            step = parse_int64(PQgetvalue(r, 0, 1), 0, INT32_MAX, &v) ? (int)v : 0;
            n_steps = parse_int64(PQgetvalue(r, 0, 2), 0, INT32_MAX, &v) ? (int)v : 0;
        }
        hold = PQgetvalue(r, 0, 3);
        done_rows = strtoll(PQgetvalue(r, 0, 5), NULL, 10);
        total = strtoll(PQgetvalue(r, 0, 6), NULL, 10);
        if (step != last_step && step > 0) {
            progress_line(&prog, "[%d/%d] %s", step, n_steps, PQgetvalue(r, 0, 7));
            last_step = step;
            rows_prev = -1;
        }
        if (strcmp(st, last_status) != 0) {
            progress_line(&prog, "convoy: %s is %s", name, st);
            snprintf(last_status, sizeof(last_status), "%s", st);
        }
        if (strcmp(hold, last_hold) != 0) {
            if (hold[0])
                progress_line(&prog, "    %s", hold);
            snprintf(last_hold, sizeof(last_hold), "%s", hold);
        }
        if (done_rows >= 0) {
            char eta[32] = "?", lag[96] = "";
            if (rows_prev >= 0 && now > t_prev && done_rows >= rows_prev) {
                double inst = (double)(done_rows - rows_prev) * 1000.0 / (double)(now - t_prev);
                rate = rate > 0 ? 0.7 * rate + 0.3 * inst : inst;
            }
            if (rows_prev < 0 || done_rows != rows_prev || now - t_prev > 2000) {
                rows_prev = done_rows;
                t_prev = now;
            }
            if (rate > 0 && total > done_rows)
                format_duration((int64_t)((double)(total - done_rows) * 1000.0 / rate), eta,
                                sizeof(eta));
            if (!PQgetisnull(r, 0, 8)) {
                const char *v = PQgetvalue(r, 0, 8), *sp = strrchr(v, ' ');
                snprintf(lag, sizeof(lag), "  worst replica lag %.1f s (%.*s)",
                         sp ? atof(sp + 1) / 1000.0 : 0.0, sp ? (int)(sp - v) : 0, v);
            }
            progress_status(&prog, "    backfill %.1f%%  %lld rows  %.0f rows/s  ETA %s%s%s%s",
                            total > 0 ? 100.0 * (double)done_rows / (double)total : 0.0,
                            (long long)done_rows, rate, eta, lag, hold[0] ? "  " : "", hold);
        }
        if (strcmp(st, "submitted") == 0 && now - since_submit > 10000) {
            progress_line(&prog,
                          "convoy: no coordinator has picked %s up yet; is `convoy "
                          "coordinator --config %s` running?",
                          name, o->cluster ? o->cluster : "CLUSTER");
            since_submit = now + 50000;
        }
        if (!strcmp(st, "done") || !strcmp(st, "failed") || !strcmp(st, "blocked") ||
            !strcmp(st, "aborted")) {
            const char *error = PQgetvalue(r, 0, 4)[0] ? PQgetvalue(r, 0, 4) : NULL;
            progress_finish(&prog);
            rc = exit_for_status(st);
            if (final)
                *final = json_pack("{s:s, s:s?}", "status", st, "error", error);
            if (rc != EXIT_OK && error)
                fprintf(stderr, "convoy: %s %s: %s\n", name, st, error);
            else if (rc == EXIT_OK)
                fprintf(stderr, "convoy: migration %s applied through the coordinator\n", name);
            PQclear(r);
            pg_close(&pg);
            return rc;
        }
        PQclear(r);
        run_ctl_sleep(NULL, 250);
    }
    progress_finish(&prog);
    if (follow_stop) {
        fprintf(stderr,
                "convoy: stopped following %s; the coordinator keeps driving it (`convoy "
                "status %s`)\n",
                name, name);
        rc = EXIT_OK;
    }
    pg_close(&pg);
    return rc;
}
