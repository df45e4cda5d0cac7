/* rehearse.c: `convoy rehearse`: copy, generate, traffic, run through engine_apply, measure. */
#include "convoy/rehearse.h"

#include "convoy/catalog.h"
#include "convoy/datagen.h"
#include "convoy/explain.h"
#include "convoy/log.h"
#include "convoy/quote.h"
#include "convoy/risk.h"
#include "convoy/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/*
 * The EXPLAIN review (engine/explain.c, `convoy explain-review`) is linked in by the command
 * that owns it; weak here, so that a build without it still links and the report says so.
 */
#pragma weak explain_statements
#pragma weak explain_capture
#pragma weak explain_compare
#pragma weak explain_report_text

#define SAMPLE_MS     50
#define PROD_TIMEOUT  "5s"
#define APP_BASELINE  "convoy-rehearse-baseline"
#define APP_SAMPLER   "convoy-rehearse-sampler"
#define APP_REHEARSE  "convoy-rehearse"
#define MAX_TABLES    32
#define LAT_BUCKET_MS 200

/* ---------------------------------------------------------------- processes */

/* Runs argv (PATH lookup) with stdout to out_path (or /dev/null) and stderr to err_path;
 * extra_env: one NAME=VALUE or NULL. Returns the pid, or -1. */
static pid_t
spawn(char *const argv[], const char *out_path, const char *err_path, const char *extra_env)
{
    posix_spawn_file_actions_t fa;
    pid_t pid = -1;
    char **env = environ;
    size_t n = 0;
    char **own = NULL;

    if (extra_env) {
        while (environ[n])
            n++;
        own = xcalloc(n + 2, sizeof(char *));
        memcpy(own, environ, n * sizeof(char *));
        own[n] = (char *)extra_env;
        env = own;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path ? out_path : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err_path ? err_path : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, env) != 0)
        pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    free(own);
    return pid;
}

static int
wait_exit(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static char *
tool(const rehearse_req_t *req, const char *name)
{
    return req->bindir ? xasprintf("%s/%s", req->bindir, name) : xstrdup(name);
}

/* The last lines of a tool's stderr, for a message. Caller frees. */
static char *
tail_of(const char *path)
{
    char *s = read_file(path, NULL);
    size_t n;
    if (s == NULL)
        return xstrdup("(no output)");
    n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
    if (n > 600) {
        char *t = xstrdup(s + n - 600);
        free(s);
        return t;
    }
    return s;
}

/* Appends a qualified name to a text[] literal being built in arr ("{" already in it). */
static void
array_add(sb_t *arr, const char *qn)
{
    sb_printf(arr, "%s\"", arr->len > 1 ? "," : "");
    for (const char *c = qn; *c; c++) {
        if (*c == '"' || *c == '\\')
            sb_putc(arr, '\\');
        sb_putc(arr, *c);
    }
    sb_putc(arr, '"');
}

/* ---------------------------------------------------------------- the sampler */

typedef struct {
    int64_t t; /* ms since the rehearsal started */
    int phase;
    int waiting;                 /* sessions waiting behind convoy's (or the baseline's) locks */
    double max_wait;             /* the longest of those waits so far, ms */
    double lag_ms;               /* the worst replica's replay lag; -1: no replica */
    int64_t wal;                 /* pg_current_wal_lsn() in bytes */
    int64_t idx_done, idx_total; /* pg_stat_progress_create_index blocks */
    char strongest[32];          /* the strongest lock ours held on the tables, "" none */
} sample_t;

typedef struct {
    char mode[32];
    char table[160];
    int64_t start, end;
    int phase;
    bool open;
} hold_iv_t;

typedef struct {
    pg_t *pg;
    char *tables; /* text[] literal of the rehearsal's tables (a parameter) */
    int64_t mono0;
    pthread_t th;
    pthread_mutex_t mu;
    bool stop;
    int phase;
    sample_t *s;
    size_t n, cap;
    hold_iv_t *iv;
    size_t n_iv, cap_iv;
    int replicas;
} sampler_t;

static int64_t
rel_ms(int64_t mono0)
{
    return now_mono_ms() - mono0;
}

/* "AccessExclusiveLock" -> "ACCESS EXCLUSIVE" */
static void
mode_name(const char *pg, char *out, size_t len)
{
    size_t o = 0;
    for (const char *c = pg; *c && o + 2 < len; c++) {
        if (strcmp(c, "Lock") == 0)
            break;
        if (c != pg && *c >= 'A' && *c <= 'Z')
            out[o++] = ' ';
        out[o++] = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
    }
    out[o] = '\0';
}

static bool
mode_blocks_writes(const char *mode)
{
    lock_mode_t m;
    return lock_mode_parse(mode, &m) && lock_mode_blocks_writes(m);
}

static int
mode_rank(const char *mode)
{
    lock_mode_t m;
    return lock_mode_parse(mode, &m) ? (int)m : -1;
}

static void
sample_once(sampler_t *sp)
{
    const char *p[1] = {sp->tables};
    PGresult *r = NULL, *g = NULL;
    sample_t s = {0};
    struct {
        char mode[32], table[160];
    } seen[64];
    int n_seen = 0;

    s.lag_ms = -1;
    if (pg_run(sp->pg,
               "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint, "
               "(SELECT coalesce(max(extract(epoch FROM replay_lag) * 1000), -1) FROM "
               "pg_stat_replication), (SELECT count(*) FROM pg_stat_replication), "
               "(SELECT coalesce(max(blocks_done), -1) FROM pg_stat_progress_create_index), "
               "(SELECT coalesce(max(blocks_total), -1) FROM pg_stat_progress_create_index)",
               0, NULL, &g) == PG_OK &&
        PQntuples(g) == 1) {
        s.wal = strtoll(PQgetvalue(g, 0, 0), NULL, 10);
        s.lag_ms = strtod(PQgetvalue(g, 0, 1), NULL);
        sp->replicas = (int)strtol(PQgetvalue(g, 0, 2), NULL, 10);
        s.idx_done = strtoll(PQgetvalue(g, 0, 3), NULL, 10);
        s.idx_total = strtoll(PQgetvalue(g, 0, 4), NULL, 10);
        if (sp->replicas == 0)
            s.lag_ms = -1;
    }
    PQclear(g);
    if (pg_run(sp->pg,
               "SELECT a.application_name IN ('convoy', '" APP_BASELINE "'), l.mode, l.granted, "
               "l.relation::regclass::text, "
               "coalesce(extract(epoch FROM clock_timestamp() - l.waitstart) * 1000, 0), "
               "CASE WHEN l.granted THEN false ELSE EXISTS (SELECT 1 FROM pg_stat_activity b "
               "  WHERE b.pid = ANY (pg_blocking_pids(l.pid)) "
               "  AND b.application_name IN ('convoy', '" APP_BASELINE "')) END "
               "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
               "WHERE l.locktype = 'relation' AND l.pid <> pg_backend_pid() "
               "AND l.relation IN (SELECT to_regclass(x) FROM unnest($1::text[]) x)",
               1, p, &r) != PG_OK) {
        PQclear(r);
        return;
    }
    s.t = rel_ms(sp->mono0);
    for (int i = 0; i < PQntuples(r); i++) {
        bool ours = PQgetvalue(r, i, 0)[0] == 't', granted = PQgetvalue(r, i, 2)[0] == 't';
        char mode[32];
        mode_name(PQgetvalue(r, i, 1), mode, sizeof(mode));
        if (ours && granted && n_seen < 64) {
            snprintf(seen[n_seen].mode, sizeof(seen[n_seen].mode), "%s", mode);
            snprintf(seen[n_seen].table, sizeof(seen[n_seen].table), "%s", PQgetvalue(r, i, 3));
            n_seen++;
            if (mode_rank(mode) > mode_rank(s.strongest))
                snprintf(s.strongest, sizeof(s.strongest), "%s", mode);
        }
        if (!ours && !granted && PQgetvalue(r, i, 5)[0] == 't') {
            double w = strtod(PQgetvalue(r, i, 4), NULL);
            s.waiting++;
            if (w > s.max_wait)
                s.max_wait = w;
        }
    }
    PQclear(r);
    pthread_mutex_lock(&sp->mu);
    s.phase = sp->phase;
    /* hold intervals: close what is gone, open what is new */
    for (size_t k = 0; k < sp->n_iv; k++) {
        bool still = false;
        if (!sp->iv[k].open)
            continue;
        for (int j = 0; j < n_seen; j++)
            still |= strcmp(seen[j].mode, sp->iv[k].mode) == 0 &&
                     strcmp(seen[j].table, sp->iv[k].table) == 0;
        if (still)
            sp->iv[k].end = s.t;
        else
            sp->iv[k].open = false;
    }
    for (int j = 0; j < n_seen; j++) {
        bool have = false;
        for (size_t k = 0; k < sp->n_iv; k++)
            have |= sp->iv[k].open && strcmp(seen[j].mode, sp->iv[k].mode) == 0 &&
                    strcmp(seen[j].table, sp->iv[k].table) == 0;
        if (have)
            continue;
        if (sp->n_iv == sp->cap_iv) {
            sp->cap_iv = sp->cap_iv ? sp->cap_iv * 2 : 64;
            sp->iv = xrealloc(sp->iv, sp->cap_iv * sizeof(hold_iv_t));
        }
        memset(&sp->iv[sp->n_iv], 0, sizeof(hold_iv_t));
        /* cut to the interval's fields (a lock mode fits; a long table name is cut) */
        snprintf(sp->iv[sp->n_iv].mode, sizeof(sp->iv[0].mode), "%.*s",
                 (int)sizeof(sp->iv[0].mode) - 1, seen[j].mode);
        snprintf(sp->iv[sp->n_iv].table, sizeof(sp->iv[0].table), "%.*s",
                 (int)sizeof(sp->iv[0].table) - 1, seen[j].table);
        sp->iv[sp->n_iv].start = sp->iv[sp->n_iv].end = s.t;
        sp->iv[sp->n_iv].phase = s.phase;
        sp->iv[sp->n_iv].open = true;
        sp->n_iv++;
    }
    if (sp->n == sp->cap) {
        sp->cap = sp->cap ? sp->cap * 2 : 1024;
        sp->s = xrealloc(sp->s, sp->cap * sizeof(sample_t));
    }
    sp->s[sp->n++] = s;
    pthread_mutex_unlock(&sp->mu);
}

static void *
sampler_main(void *arg)
{
    sampler_t *sp = arg;
    for (;;) {
        int64_t t0 = now_mono_ms(), left;
        bool stop;
        pthread_mutex_lock(&sp->mu);
        stop = sp->stop;
        pthread_mutex_unlock(&sp->mu);
        if (stop)
            break;
        sample_once(sp);
        left = SAMPLE_MS - (now_mono_ms() - t0);
        if (left > 0)
            usleep((useconds_t)left * 1000);
    }
    return NULL;
}

static bool
sampler_start(sampler_t *sp)
{
    sp->stop = false;
    return pthread_create(&sp->th, NULL, sampler_main, sp) == 0;
}

static void
sampler_stop(sampler_t *sp)
{
    pthread_mutex_lock(&sp->mu);
    sp->stop = true;
    pthread_mutex_unlock(&sp->mu);
    pthread_join(sp->th, NULL);
}

static void
sampler_phase(sampler_t *sp, int phase)
{
    pthread_mutex_lock(&sp->mu);
    sp->phase = phase;
    pthread_mutex_unlock(&sp->mu);
}

/* ---------------------------------------------------------------- events */

typedef struct {
    int64_t t;
    engine_event_kind_t kind;
    int step;
    char *summary;
    char *kind_name;
    char *outcome;
    char *locks; /* "ACCESS EXCLUSIVE on public.users" */
    bool scales; /* its duration grows with the table */
    int64_t ms, rows, batch_rows, batch_ms, done;
    double rate;
} ev_rec_t;

typedef struct {
    const engine_events_t *fwd;
    int64_t mono0;
    int phase;
    ev_rec_t *e;
    size_t n, cap;
} ev_log_t;

static void
record_event(void *ud, const engine_event_t *e)
{
    ev_log_t *l = ud;
    ev_rec_t r = {0};

    if (l->fwd)
        events_emit(l->fwd, e);
    if (e->kind != EVT_STEP_BEGIN && e->kind != EVT_STEP_END && e->kind != EVT_PROGRESS &&
        e->kind != EVT_HOLD)
        return;
    r.t = rel_ms(l->mono0);
    r.kind = e->kind;
    r.step = e->step;
    if (e->s) {
        sb_t lk;
        r.summary = xstrdup(e->s->summary ? e->s->summary : "");
        r.kind_name = xstrdup(step_kind_name(e->s->kind));
        sb_init(&lk);
        for (int k = 0; k < e->s->n_locks; k++)
            sb_printf(&lk, "%s%s on %s", k ? ", " : "", lock_mode_name(e->s->locks[k].mode),
                      e->s->locks[k].table);
        r.locks = sb_steal(&lk);
        r.scales = e->s->kind == STEP_BACKFILL || e->s->kind == STEP_INDEX ||
                   e->s->kind == STEP_VALIDATE || e->s->kind == STEP_PRECHECK || e->s->rewrites ||
                   e->s->scans;
    }
    r.outcome = e->outcome ? xstrdup(e->outcome) : NULL;
    r.ms = e->ms;
    r.rows = e->rows;
    r.batch_rows = e->batch_rows;
    r.batch_ms = e->batch_ms;
    r.done = e->done;
    r.rate = e->rate;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->e = xrealloc(l->e, l->cap * sizeof(ev_rec_t));
    }
    l->e[l->n++] = r;
}

/* ---------------------------------------------------------------- traffic */

typedef struct {
    double start, lat; /* ms since the rehearsal started, ms */
} tx_t;

typedef struct {
    pid_t pid;
    char *prefix; /* the per-transaction log's prefix */
} traffic_t;

static int
tx_cmp(const void *a, const void *b)
{
    double x = ((const tx_t *)a)->lat, y = ((const tx_t *)b)->lat;
    return x < y ? -1 : x > y;
}

/* Reads every pgbench log file under dir starting with base; times relative to wall0. */
static tx_t *
read_tx_logs(const char *dir, const char *base, int64_t wall0, size_t *n_out)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    tx_t *tx = NULL;
    size_t n = 0, cap = 0;

    *n_out = 0;
    if (d == NULL)
        return NULL;
    while ((de = readdir(d)) != NULL) {
        char *path, *text, *line, *save = NULL;
        if (strncmp(de->d_name, base, strlen(base)) != 0)
            continue;
        path = xasprintf("%s/%s", dir, de->d_name);
        text = read_file(path, NULL);
        free(path);
        if (text == NULL)
            continue;
        for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            long long client, no, lat_us, epoch, us;
            int script;
            if (sscanf(line, "%lld %lld %lld %d %lld %lld", &client, &no, &lat_us, &script, &epoch,
                       &us) != 6)
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 4096;
                tx = xrealloc(tx, cap * sizeof(tx_t));
            }
            tx[n].lat = (double)lat_us / 1000.0;
            tx[n].start = (double)(epoch * 1000 - wall0) + (double)us / 1000.0 - tx[n].lat;
            n++;
        }
        free(text);
    }
    closedir(d);
    *n_out = n;
    return tx;
}

/* p50/p99/max of the transactions that started in [from, to). */
static json_t *
latency_json(const tx_t *tx, size_t n, double from, double to)
{
    size_t k = 0;
    tx_t *w = xcalloc(n ? n : 1, sizeof(tx_t));
    json_t *o;

    for (size_t i = 0; i < n; i++)
        if (tx[i].start >= from && tx[i].start < to)
            w[k++] = tx[i];
    if (k == 0) {
        free(w);
        return json_pack("{s:i}", "n", 0);
    }
    qsort(w, k, sizeof(tx_t), tx_cmp);
    o = json_pack("{s:I, s:f, s:f, s:f, s:f, s:f}", "n", (json_int_t)k, "from_ms", from, "to_ms",
                  to, "p50_ms", w[(k - 1) / 2].lat, "p99_ms",
                  w[(size_t)((double)(k - 1) * 0.99)].lat, "max_ms", w[k - 1].lat);
    free(w);
    return o;
}

static bool
write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    bool ok;
    if (f == NULL)
        return false;
    ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok;
}

/* The default mix: primary-key reads and single-row updates, 4:1, keys as generated. */
static bool
default_scripts(
    const char *dir, const dg_table_t *t, const char *changed_col, char **files, char **err)
{
    const dg_column_t *pk = NULL, *upd = NULL;
    int64_t min, step;
    char *kexpr, *qn, *pkid, *updid, *s;
    qname_t q = {t->schema, t->name};
    bool ok;

    for (size_t i = 0; i < t->n_cols; i++) {
        const dg_column_t *c = &t->cols[i];
        if (pk == NULL && c->unique && c->is_int && c->not_null)
            pk = c;
    }
    for (size_t i = 0; i < t->n_cols; i++) {
        const dg_column_t *c = &t->cols[i];
        if (upd == NULL && !c->unique && !c->fk_table && !c->generated &&
            (changed_col == NULL || strcmp(c->name, changed_col) != 0))
            upd = c;
    }
    if (pk == NULL) {
        *err = xasprintf("%s has no integer primary or unique key for the default traffic: give a "
                         "pgbench script with --traffic FILE",
                         t->name);
        return false;
    }
    if (upd == NULL)
        upd = pk;
    kexpr = datagen_int_key(t, pk, &min, &step);
    free(kexpr);
    qn = qname_sql(&q);
    pkid = ident_sql(pk->name);
    updid = ident_sql(upd->name);
    s = xasprintf("\\set g random(1, %lld)\n\\set id %lld + (:g - 1) * %lld\n"
                  "SELECT * FROM %s WHERE %s = :id;\n",
                  (long long)(t->rows > 0 ? t->rows : 1), (long long)min, (long long)step, qn,
                  pkid);
    files[0] = xasprintf("%s/read.sql", dir);
    ok = write_text(files[0], s);
    free(s);
    s = xasprintf("\\set g random(1, %lld)\n\\set id %lld + (:g - 1) * %lld\n"
                  "UPDATE %s SET %s = %s WHERE %s = :id;\n",
                  (long long)(t->rows > 0 ? t->rows : 1), (long long)min, (long long)step, qn,
                  updid, updid, pkid);
    files[1] = xasprintf("%s/update.sql", dir);
    ok = ok && write_text(files[1], s);
    free(s);
    free(qn);
    free(pkid);
    free(updid);
    if (!ok)
        *err = xasprintf("writing the traffic scripts in %s: %s", dir, strerror(errno));
    return ok;
}

static bool
traffic_start(const rehearse_req_t *req,
              const char *dir,
              char **scripts,
              int n_scripts,
              const char *logbase,
              traffic_t *tr,
              char **err)
{
    char *argv[16], clients[16], prefix[512], *errp, *bin = tool(req, "pgbench");
    char *w0 = NULL, *w1 = NULL;
    int a = 0;

    snprintf(clients, sizeof(clients), "%d", req->clients > 0 ? req->clients : 4);
    snprintf(prefix, sizeof(prefix), "--log-prefix=%s/%s", dir, logbase);
    argv[a++] = bin;
    argv[a++] = (char *)"-n";
    argv[a++] = (char *)"-c";
    argv[a++] = clients;
    argv[a++] = (char *)"-j";
    argv[a++] = (char *)"2";
    argv[a++] = (char *)"-T";
    argv[a++] = (char *)"86400";
    argv[a++] = (char *)"-l";
    argv[a++] = prefix;
    if (n_scripts == 2) {
        w0 = xasprintf("%s@4", scripts[0]);
        w1 = xasprintf("%s@1", scripts[1]);
        argv[a++] = (char *)"-f";
        argv[a++] = w0;
        argv[a++] = (char *)"-f";
        argv[a++] = w1;
    } else {
        argv[a++] = (char *)"-f";
        argv[a++] = scripts[0];
    }
    argv[a++] = (char *)(req->staging ? req->staging : "");
    argv[a] = NULL;
    if (req->staging == NULL)
        argv[a - 1] = NULL;
    errp = xasprintf("%s/%s.stderr", dir, logbase);
    tr->pid = spawn(argv, NULL, errp, NULL);
    tr->prefix = xstrdup(logbase);
    free(w0);
    free(w1);
    free(bin);
    if (tr->pid < 0) {
        *err = xasprintf("cannot start pgbench (%s): install it (Debian: postgresql-client)",
                         strerror(errno));
        free(errp);
        return false;
    }
    /* it fails at once on a bad script or connection */
    usleep(300000);
    if (waitpid(tr->pid, NULL, WNOHANG) == tr->pid) {
        char *t = tail_of(errp);
        *err = xasprintf("pgbench stopped at once: %s", t);
        free(t);
        free(errp);
        tr->pid = -1;
        return false;
    }
    free(errp);
    return true;
}

static void
traffic_stop(traffic_t *tr)
{
    if (tr->pid <= 0)
        return;
    /* pgbench ends on SIGALRM as on an expired -T: running transactions finish, logs flush */
    kill(tr->pid, SIGALRM);
    wait_exit(tr->pid);
    tr->pid = -1;
}

/* ---------------------------------------------------------------- the rehearsal */

typedef struct {
    const rehearse_req_t *req;
    run_ctl_t *ctl;
    pg_t *prod, *st;
    char dir[64];
    dg_table_t tables[MAX_TABLES];
    size_t n_tables;
    size_t main_table; /* the first table the migration changes */
    char *dump;        /* pg_dump --schema-only of the tables */
    char *scripts[2];
    int n_scripts;
    char *traffic_kind;
    sampler_t sp;
    int64_t mono0, wall0;
    json_t *phases;
    json_t *generation;
    json_t *stats;
    char *changed_col;
    /* the EXPLAIN review: PROD's top statements, their plans on STAGING before the run */
    json_t *review, *rv_stmts, *rv_before;
    char *rv_why;
} rh_t;

static bool
prod_connect(rh_t *rh, char **err)
{
    rh->prod = pg_connect(rh->req->prod, err);
    if (rh->prod == NULL)
        return false;
    if (pg_exec(rh->prod, "SET application_name = '" APP_REHEARSE "'; "
                          "SET default_transaction_read_only = on; "
                          "SET statement_timeout = '" PROD_TIMEOUT "'; "
                          "SET lock_timeout = '1s'") != PG_OK) {
        *err = xasprintf("PROD: %s", pg_errmsg(rh->prod));
        return false;
    }
    return true;
}

/* The tables the migration touches (from the catalog) and every table they reference,
 * parents first. */
static bool
find_tables(rh_t *rh, char **err)
{
    facts_t facts = {0};
    sb_t arr;
    PGresult *r = NULL;
    const char *p[1];
    bool ok = false;

    if (!catalog_fetch(rh->prod, rh->req->m, &facts, err))
        return false;
    sb_init(&arr);
    sb_putc(&arr, '{');
    for (size_t i = 0; i < facts.n_tables; i++) {
        qname_t q = {facts.tables[i].schema, facts.tables[i].name};
        char *qn;
        if (!facts.tables[i].exists)
            continue;
        qn = qname_sql(&q);
        array_add(&arr, qn);
        free(qn);
    }
    sb_putc(&arr, '}');
    if (arr.len == 2) {
        *err = xstrdup("the migration changes no existing table of PROD: nothing to rehearse");
        goto done;
    }
    p[0] = arr.data;
    /* depth: the longest FK path below a table; parents (deeper) first */
    if (pg_run(rh->prod,
               "WITH RECURSIVE r(oid, depth) AS ("
               "  SELECT to_regclass(x), 0 FROM unnest($1::text[]) x "
               "  UNION ALL SELECT c.confrelid, r.depth + 1 FROM pg_constraint c JOIN r ON "
               "  c.conrelid = r.oid WHERE c.contype = 'f' AND c.confrelid <> c.conrelid "
               "  AND r.depth < 16) "
               "SELECT n.nspname, k.relname, max(r.depth), "
               "  bool_or(r.depth = 0 AND r.oid = to_regclass(($1::text[])[1])) "
               "FROM r JOIN pg_class k ON k.oid = r.oid JOIN pg_namespace n ON "
               "n.oid = k.relnamespace GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2",
               1, p, &r) != PG_OK) {
        *err = xasprintf("reading the tables' references on PROD: %s", pg_errmsg(rh->prod));
        goto done;
    }
    for (int i = 0; i < PQntuples(r) && rh->n_tables < MAX_TABLES; i++) {
        if (!datagen_read(rh->prod, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                          &rh->tables[rh->n_tables], err))
            goto done;
        if (PQgetvalue(r, i, 3)[0] == 't')
            rh->main_table = rh->n_tables;
        rh->n_tables++;
    }
    for (size_t i = 0; i < rh->req->m->n_actions && rh->changed_col == NULL; i++)
        if (rh->req->m->actions[i].column)
            rh->changed_col = xstrdup(rh->req->m->actions[i].column);
    ok = true;
done:
    PQclear(r);
    sb_free(&arr);
    facts_free(&facts);
    return ok;
}

/* pg_dump 15.14 and later frame the dump in psql's \\restrict KEY ... \\unrestrict KEY: meta
 * commands, not SQL; blanked out in place. */
static void
strip_meta(char *dump)
{
    for (char *line = dump; line && *line;) {
        char *nl = strchr(line, '\n');
        if (strncmp(line, "\\restrict ", 10) == 0 || strncmp(line, "\\unrestrict ", 12) == 0)
            memset(line, ' ', nl ? (size_t)(nl - line) : strlen(line));
        line = nl ? nl + 1 : NULL;
    }
}

static bool
dump_schema(rh_t *rh, char **err)
{
    char *argv[8 + 2 * MAX_TABLES], *bin = tool(rh->req, "pg_dump"), *outp, *errp, *dbarg = NULL;
    char *pat[MAX_TABLES];
    int a = 0, rc;
    pid_t pid;

    argv[a++] = bin;
    argv[a++] = (char *)"--schema-only";
    argv[a++] = (char *)"--no-owner";
    argv[a++] = (char *)"--no-privileges";
    argv[a++] = (char *)"--lock-wait-timeout=" PROD_TIMEOUT;
    for (size_t i = 0; i < rh->n_tables; i++) {
        qname_t q = {rh->tables[i].schema, rh->tables[i].name};
        char *qn = qname_sql(&q);
        /* a pg_dump pattern: quoted parts match exactly */
        char *s = ident_sql(rh->tables[i].schema), *n = ident_sql(rh->tables[i].name);
        pat[i] =
            xasprintf("--table=%s%s%s.%s%s%s", s[0] == '"' ? "" : "\"", s, s[0] == '"' ? "" : "\"",
                      n[0] == '"' ? "" : "\"", n, n[0] == '"' ? "" : "\"");
        argv[a++] = pat[i];
        free(qn);
        free(s);
        free(n);
    }
    if (rh->req->prod) {
        dbarg = xasprintf("--dbname=%s", rh->req->prod);
        argv[a++] = dbarg;
    }
    argv[a] = NULL;
    outp = xasprintf("%s/schema.sql", rh->dir);
    errp = xasprintf("%s/pg_dump.stderr", rh->dir);
    pid = spawn(argv, outp, errp, "PGOPTIONS=-c default_transaction_read_only=on");
    rc = pid < 0 ? -1 : wait_exit(pid);
    if (rc != 0) {
        char *t = tail_of(errp);
        *err = xasprintf("pg_dump --schema-only of PROD's tables failed (%s): %s",
                         rc < 0 ? strerror(errno) : "exit status", t);
        free(t);
    } else {
        rh->dump = read_file(outp, NULL);
        if (rh->dump == NULL)
            *err = xasprintf("reading %s: %s", outp, strerror(errno));
        else
            strip_meta(rh->dump);
    }
    for (size_t i = 0; i < rh->n_tables; i++)
        free(pat[i]);
    free(dbarg);
    free(outp);
    free(errp);
    free(bin);
    return rh->dump != NULL;
}

/* STAGING: the copies dropped, the schema made again from the dump, rows generated. */
static bool
build_staging(rh_t *rh, bool measure, char **err)
{
    json_t *gen = json_array();

    if (pg_exec(rh->st, "DROP SCHEMA IF EXISTS convoy CASCADE") != PG_OK)
        goto sqlerr;
    for (size_t i = rh->n_tables; i-- > 0;) {
        qname_t q = {rh->tables[i].schema, rh->tables[i].name};
        char *qn = qname_sql(&q), *sch = ident_sql(rh->tables[i].schema);
        char *s =
            xasprintf("DROP TABLE IF EXISTS %s CASCADE; CREATE SCHEMA IF NOT EXISTS %s", qn, sch);
        pg_status_t stt = pg_exec(rh->st, s);
        free(s);
        free(qn);
        free(sch);
        if (stt != PG_OK)
            goto sqlerr;
    }
    if (pg_exec(rh->st, rh->dump) != PG_OK) {
        *err = xasprintf("creating PROD's tables on STAGING from pg_dump's output: %s (the dump "
                         "is in %s/schema.sql)",
                         pg_errmsg(rh->st), rh->dir);
        json_decref(gen);
        return false;
    }
    /* pg_dump's output empties search_path for its session */
    if (pg_exec(rh->st, "RESET search_path") != PG_OK)
        goto sqlerr;
    for (size_t i = 0; i < rh->n_tables; i++) {
        dg_table_t *t = &rh->tables[i];
        qname_t q = {t->schema, t->name};
        char *qn, *s;
        if (!datagen_fill(rh->st, rh->tables, rh->n_tables, t, measure, err)) {
            json_decref(gen);
            return false;
        }
        qn = qname_sql(&q);
        s = xasprintf("VACUUM ANALYZE %s", qn);
        if (pg_exec(rh->st, s) != PG_OK) {
            free(s);
            free(qn);
            goto sqlerr;
        }
        free(s);
        free(qn);
        if (measure)
            json_array_append_new(
                gen,
                json_pack("{s:s, s:I, s:I, s:f, s:f, s:f, s:f, s:f}", "table", t->name, "prod_rows",
                          (json_int_t)t->prod_rows, "rows", (json_int_t)t->rows, "generate_ms",
                          t->gen_ms, "generate_rows_per_s",
                          t->gen_ms > 0 ? (double)t->rows * 1000.0 / t->gen_ms : 0.0,
                          "insert_select_ms", t->copy_ms, "insert_select_rows_per_s",
                          t->copy_ms > 0 ? (double)t->rows * 1000.0 / t->copy_ms : 0.0, "ratio",
                          t->copy_ms > 0 && t->gen_ms > 0 ? t->copy_ms / t->gen_ms : 0.0));
    }
    if (measure) {
        json_decref(rh->generation);
        rh->generation = gen;
    } else {
        json_decref(gen);
    }
    return true;
sqlerr:
    *err = xasprintf("preparing STAGING: %s", pg_errmsg(rh->st));
    json_decref(gen);
    return false;
}

static int64_t
wal_now(pg_t *pg)
{
    char *v = pg_value(pg, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint", 0, NULL);
    int64_t n = v ? strtoll(v, NULL, 10) : -1;
    free(v);
    return n;
}

static void
ev_log_free(ev_log_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->e[i].summary);
        free(l->e[i].kind_name);
        free(l->e[i].outcome);
        free(l->e[i].locks);
    }
    free(l->e);
}

/* One phase: traffic, settle, the change (psql or engine_apply), settle, measured. */
static json_t *
run_phase(rh_t *rh, int phase, bool baseline, const engine_events_t *ev, char **err)
{
    const rehearse_req_t *req = rh->req;
    traffic_t tr = {-1, NULL};
    char logbase[32];
    int64_t t_start, t_change, t_done, t_end, wal0, wal1;
    ev_log_t log = {ev, rh->mono0, phase, NULL, 0, 0};
    engine_events_t rec = {record_event, &log};
    json_t *o = json_object(), *steps = json_array(), *locks = json_array(), *tl_lat = json_array(),
           *tl_wait = json_array(), *tl_lag = json_array(), *tl_batch = json_array(),
           *lat_steps = json_array();
    engine_outcome_t out;
    int settle = req->settle_ms > 0 ? req->settle_ms : 2000;
    double factor = 1.0, max_block = 0, max_wait = 0, max_lag = -1;
    tx_t *tx = NULL;
    size_t n_tx = 0;
    const dg_table_t *mt = &rh->tables[rh->main_table];

    memset(&out, 0, sizeof(out));
    if (mt->rows > 0 && mt->prod_rows > 0)
        factor = (double)mt->prod_rows / (double)mt->rows;
    snprintf(logbase, sizeof(logbase), "tx%d", phase);
    sampler_phase(&rh->sp, phase);
    t_start = rel_ms(rh->mono0);
    if (rh->n_scripts > 0 &&
        !traffic_start(req, rh->dir, rh->scripts, rh->n_scripts, logbase, &tr, err))
        goto fail;
    run_ctl_sleep(rh->ctl, settle);
    wal0 = wal_now(rh->st);
    t_change = rel_ms(rh->mono0);
    if (baseline) {
        char *bin = tool(req, "psql"), *errp = xasprintf("%s/psql.stderr", rh->dir);
        char *argv[10];
        int a = 0, rc;
        pid_t pid;
        argv[a++] = bin;
        argv[a++] = (char *)"-X";
        argv[a++] = (char *)"-q";
        argv[a++] = (char *)"-v";
        argv[a++] = (char *)"ON_ERROR_STOP=1";
        argv[a++] = (char *)"-f";
        argv[a++] = (char *)req->file;
        argv[a++] = (char *)(req->staging ? req->staging : "");
        argv[a] = NULL;
        if (req->staging == NULL)
            argv[a - 1] = NULL;
        /* the step marks for the charts and the table */
        {
            ev_rec_t r = {0};
            r.t = t_change;
            r.kind = EVT_STEP_BEGIN;
            r.step = 1;
            r.summary = xasprintf("psql -f %s (the file as written)", req->file);
            r.kind_name = xstrdup("psql");
            r.locks = xstrdup("");
            r.scales = true;
            if (log.n == log.cap) {
                log.cap = log.cap ? log.cap * 2 : 16;
                log.e = xrealloc(log.e, log.cap * sizeof(ev_rec_t));
            }
            log.e[log.n++] = r;
        }
        pid = spawn(argv, NULL, errp, "PGAPPNAME=" APP_BASELINE);
        rc = pid < 0 ? -1 : wait_exit(pid);
        {
            ev_rec_t r = {0};
            r.t = rel_ms(rh->mono0);
            r.kind = EVT_STEP_END;
            r.step = 1;
            r.ms = r.t - t_change;
            r.rows = -1;
            r.outcome = xstrdup(rc == 0 ? "done" : "failed");
            if (log.n == log.cap) {
                log.cap = log.cap * 2;
                log.e = xrealloc(log.e, log.cap * sizeof(ev_rec_t));
            }
            log.e[log.n++] = r;
        }
        json_object_set_new(o, "result", json_string(rc == 0 ? "done" : "failed"));
        if (rc != 0) {
            char *t = tail_of(errp);
            json_object_set_new(o, "message", json_string(t));
            free(t);
        }
        free(bin);
        free(errp);
    } else {
        apply_req_t ar = {0};
        ar.conninfo = req->staging;
        ar.file = req->file;
        ar.m = req->m;
        ar.actor = req->actor;
        ar.source = req->m->text;
        engine_apply(&ar, rh->ctl, &rec, &out);
        json_object_set_new(o, "result", json_string(engine_result_name(out.result)));
        if (out.message)
            json_object_set_new(o, "message", json_string(out.message));
    }
    t_done = rel_ms(rh->mono0);
    wal1 = wal_now(rh->st);
    if (!run_ctl_stopped(rh->ctl))
        run_ctl_sleep(rh->ctl, settle);
    traffic_stop(&tr);
    t_end = rel_ms(rh->mono0);
    /* let the sampler see the end */
    usleep(SAMPLE_MS * 2 * 1000);
    if (tr.prefix)
        tx = read_tx_logs(rh->dir, tr.prefix, rh->wall0, &n_tx);

    /* steps */
    for (size_t i = 0; i < log.n; i++) {
        const ev_rec_t *b = &log.e[i], *e = NULL;
        json_t *s;
        if (b->kind != EVT_STEP_BEGIN)
            continue;
        for (size_t k = i + 1; k < log.n && e == NULL; k++)
            if (log.e[k].kind == EVT_STEP_END && log.e[k].step == b->step)
                e = &log.e[k];
        s = json_pack("{s:i, s:s, s:s, s:s, s:I}", "n", b->step, "kind",
                      b->kind_name ? b->kind_name : "", "summary", b->summary ? b->summary : "",
                      "locks", b->locks ? b->locks : "", "begin_ms", (json_int_t)b->t);
        if (e) {
            int64_t ms = e->ms >= 0 ? e->ms : e->t - b->t;
            json_object_set_new(s, "end_ms", json_integer(e->t));
            json_object_set_new(s, "ms", json_integer(ms));
            json_object_set_new(s, "outcome", json_string(e->outcome ? e->outcome : ""));
            json_object_set_new(s, "scales", json_boolean(b->scales));
            json_object_set_new(s, "ms_full",
                                json_integer(b->scales ? (json_int_t)((double)ms * factor) : ms));
            if (e->rows >= 0)
                json_object_set_new(s, "rows", json_integer(e->rows));
            if (b->kind_name && strcmp(b->kind_name, "backfill") == 0 && ms > 0 && e->rows > 0)
                json_object_set_new(s, "rows_per_s",
                                    json_real((double)e->rows * 1000.0 / (double)ms));
            if (b->kind_name && strcmp(b->kind_name, "index") == 0) {
                int64_t blocks = -1;
                for (size_t k = 0; k < rh->sp.n; k++)
                    if (rh->sp.s[k].t >= b->t && rh->sp.s[k].t <= e->t &&
                        rh->sp.s[k].idx_total > blocks)
                        blocks = rh->sp.s[k].idx_total;
                if (blocks > 0 && ms > 0)
                    json_object_set_new(
                        s, "index_mb_per_s",
                        json_real((double)blocks * 8192.0 / 1048576.0 / ((double)ms / 1000.0)));
            }
            if (b->kind_name && strcmp(b->kind_name, "validate") == 0 && ms > 0)
                json_object_set_new(
                    s, "validate_mb_per_s",
                    json_real((double)mt->prod_bytes / factor / 1048576.0 / ((double)ms / 1000.0)));
            json_array_append_new(lat_steps,
                                  json_pack("{s:i, s:o}", "n", b->step, "latency",
                                            latency_json(tx, n_tx, (double)b->t, (double)e->t)));
        }
        json_array_append_new(steps, s);
    }
    /* locks held by ours in this phase */
    pthread_mutex_lock(&rh->sp.mu);
    for (size_t k = 0; k < rh->sp.n_iv; k++) {
        const hold_iv_t *iv = &rh->sp.iv[k];
        bool bw = mode_blocks_writes(iv->mode);
        if (iv->phase != phase)
            continue;
        /* a hold seen in one sample lasted up to one sample interval */
        double held = (double)(iv->end - iv->start) + (iv->end == iv->start ? SAMPLE_MS / 2.0 : 0);
        json_array_append_new(locks,
                              json_pack("{s:s, s:s, s:I, s:I, s:f, s:b}", "mode", iv->mode, "table",
                                        iv->table, "start_ms", (json_int_t)iv->start, "end_ms",
                                        (json_int_t)iv->end, "held_ms", held, "blocks_writes", bw));
        if (bw && held > max_block)
            max_block = held;
    }
    for (size_t k = 0; k < rh->sp.n; k++) {
        const sample_t *s = &rh->sp.s[k];
        if (s->phase != phase || s->t < t_start || s->t > t_end + SAMPLE_MS * 2)
            continue;
        if (s->max_wait > max_wait)
            max_wait = s->max_wait;
        if (s->lag_ms > max_lag)
            max_lag = s->lag_ms;
        json_array_append_new(tl_wait, json_pack("[I, i, f, s]", (json_int_t)s->t, s->waiting,
                                                 s->max_wait, s->strongest));
        if (s->lag_ms >= 0)
            json_array_append_new(tl_lag, json_pack("[I, f]", (json_int_t)s->t, s->lag_ms));
    }
    pthread_mutex_unlock(&rh->sp.mu);
    for (size_t i = 0; i < log.n; i++)
        if (log.e[i].kind == EVT_PROGRESS && log.e[i].batch_rows > 0)
            json_array_append_new(tl_batch, json_pack("[I, I, I, f, i]", (json_int_t)log.e[i].t,
                                                      (json_int_t)log.e[i].batch_rows,
                                                      (json_int_t)log.e[i].batch_ms, log.e[i].rate,
                                                      log.e[i].step));
    /* latency over time: per bucket, the p50 and the max */
    if (n_tx > 0) {
        for (int64_t b0 = t_start; b0 < t_end; b0 += LAT_BUCKET_MS) {
            json_t *l = latency_json(tx, n_tx, (double)b0, (double)(b0 + LAT_BUCKET_MS));
            if (json_integer_value(json_object_get(l, "n")) > 0)
                json_array_append_new(tl_lat,
                                      json_pack("[I, f, f, I]", (json_int_t)b0,
                                                json_real_value(json_object_get(l, "p50_ms")),
                                                json_real_value(json_object_get(l, "max_ms")),
                                                json_integer_value(json_object_get(l, "n"))));
            json_decref(l);
        }
    }
    json_object_set_new(o, "name", json_string(baseline ? "baseline (psql)" : "convoy"));
    json_object_set_new(o, "start_ms", json_integer(t_start));
    json_object_set_new(o, "change_ms", json_integer(t_change));
    json_object_set_new(o, "done_ms", json_integer(t_done));
    json_object_set_new(o, "end_ms", json_integer(t_end));
    json_object_set_new(o, "duration_ms", json_integer(t_done - t_change));
    json_object_set_new(o, "duration_full_ms",
                        json_integer((json_int_t)((double)(t_done - t_change) * factor)));
    json_object_set_new(o, "factor", json_real(factor));
    json_object_set_new(o, "wal_bytes", json_integer(wal1 - wal0));
    json_object_set_new(o, "wal_bytes_full",
                        json_integer((json_int_t)((double)(wal1 - wal0) * factor)));
    json_object_set_new(o, "max_block_ms", json_real(max_block));
    json_object_set_new(o, "max_wait_ms", json_real(max_wait));
    json_object_set_new(o, "max_replica_lag_ms", json_real(max_lag));
    json_object_set_new(o, "steps", steps);
    json_object_set_new(o, "locks", locks);
    json_object_set_new(
        o, "latency",
        json_pack("{s:o, s:o, s:o, s:o}", "before",
                  latency_json(tx, n_tx, (double)t_start, (double)t_change), "during",
                  latency_json(tx, n_tx, (double)t_change, (double)t_done), "after",
                  latency_json(tx, n_tx, (double)t_done, (double)t_end + 1), "steps", lat_steps));
    json_object_set_new(o, "timeline",
                        json_pack("{s:o, s:o, s:o, s:o}", "latency", tl_lat, "waiting", tl_wait,
                                  "lag", tl_lag, "batches", tl_batch));
    json_object_set_new(o, "transactions", json_integer((json_int_t)n_tx));
    free(tx);
    free(tr.prefix);
    ev_log_free(&log);
    engine_outcome_free(&out);
    return o;
fail:
    traffic_stop(&tr);
    free(tr.prefix);
    ev_log_free(&log);
    json_decref(o);
    json_decref(steps);
    json_decref(locks);
    json_decref(tl_lat);
    json_decref(tl_wait);
    json_decref(tl_lag);
    json_decref(tl_batch);
    json_decref(lat_steps);
    return NULL;
}

static void
remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        char *p;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        p = xasprintf("%s/%s", dir, de->d_name);
        unlink(p);
        free(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Before convoy's run: PROD's top statements on the tables, planned on STAGING as it is. */
static void
review_begin(rh_t *rh, const engine_events_t *ev)
{
    explain_opts_t o = {0, -1, 0, true};
    facts_t none = {0};
    plan_t plan;
    char *err = NULL;

    if (explain_statements == NULL || explain_capture == NULL)
        return;
    plan_build(rh->req->m, &none, &plan);
    if (!explain_statements(rh->prod, rh->req->m, &plan, &o, &rh->rv_stmts, &rh->rv_why, &err) ||
        !explain_capture(rh->st, rh->rv_stmts, &o, &rh->rv_before, &err)) {
        events_line(ev, EVT_INFO, rh->req->m->name, 0, "rehearse: no EXPLAIN review: %s",
                    err ? err : "failed");
        json_decref(rh->rv_stmts);
        rh->rv_stmts = NULL;
    }
    free(err);
    plan_free(&plan);
}

/* After it: the same statements planned again, compared (a real "after": drops included). */
static void
review_end(rh_t *rh)
{
    explain_opts_t o = {0, -1, 0, true};
    facts_t none = {0};
    plan_t plan;
    json_t *after = NULL;
    char *err = NULL;

    if (rh->rv_stmts == NULL || explain_compare == NULL)
        return;
    plan_build(rh->req->m, &none, &plan);
    if (explain_capture(rh->st, rh->rv_stmts, &o, &after, &err))
        rh->review = explain_compare(&plan, rh->rv_stmts, rh->rv_before, after, &o, "rehearsal",
                                     rh->rv_why, true);
    json_decref(after);
    free(err);
    plan_free(&plan);
}

/* The risk from the convoy phase's measurements, extrapolated. */
static json_t *
assess(rh_t *rh, const json_t *phase, char **directive)
{
    facts_t none = {0};
    plan_t plan;
    risk_measured_t m;
    risk_t r;
    json_t *j;
    const dg_table_t *mt = &rh->tables[rh->main_table];

    plan_build(rh->req->m, &none, &plan);
    risk_measured_init(&m);
    plan.risk_measured = -1; /* measure afresh, whatever the file says */
    m.duration_ms = json_integer_value(json_object_get(phase, "duration_full_ms"));
    m.wal_bytes = json_integer_value(json_object_get(phase, "wal_bytes_full"));
    m.max_block_ms = (int64_t)json_real_value(json_object_get(phase, "max_block_ms"));
    m.max_wait_ms = (int64_t)json_real_value(json_object_get(phase, "max_wait_ms"));
    m.lock_timeout_ms = plan.lock_timeout_ms;
    {
        const json_t *lat = json_object_get(phase, "latency");
        const json_t *b = json_object_get(lat, "before"), *d = json_object_get(lat, "during");
        if (json_object_get(b, "p99_ms"))
            m.p99_before_ms = json_real_value(json_object_get(b, "p99_ms"));
        if (json_object_get(d, "p99_ms")) {
            m.p99_during_ms = json_real_value(json_object_get(d, "p99_ms"));
            m.max_during_ms = json_real_value(json_object_get(d, "max_ms"));
        }
    }
    m.replica_lag_ms = json_real_value(json_object_get(phase, "max_replica_lag_ms"));
    if (m.replica_lag_ms < 0)
        m.replica_lag_ms = -1;
    risk_assess(&plan, mt->prod_bytes, mt->prod_rows, &m, &r);
    j = risk_to_json(&r, plan.risk_threshold);
    *directive = xasprintf("-- convoy:risk %d", r.score);
    json_object_set_new(j, "directive", json_string(*directive));
    risk_free(&r);
    plan_free(&plan);
    return j;
}

void
rehearse_run(const rehearse_req_t *req,
             run_ctl_t *ctl,
             const engine_events_t *ev,
             rehearse_out_t *out)
{
    rh_t rh;
    char *err = NULL, *directive = NULL;
    json_t *report = NULL, *conv = NULL, *tables = json_array();
    bool sampler_started = false;
    double scale = req->scale > 0 ? req->scale : 1.0;

    memset(out, 0, sizeof(*out));
    memset(&rh, 0, sizeof(rh));
    rh.req = req;
    rh.ctl = ctl;
    rh.phases = json_array();
    rh.mono0 = now_mono_ms();
    rh.wall0 = now_wall_ms();
    snprintf(rh.dir, sizeof(rh.dir), "/tmp/convoy-rehearse-XXXXXX");
    if (mkdtemp(rh.dir) == NULL) {
        err = xasprintf("cannot make a temporary directory: %s", strerror(errno));
        rh.dir[0] = '\0';
        goto fail;
    }
    chmod(rh.dir, 0700);
    events_line(ev, EVT_INFO, req->m->name, 0, "rehearse: reading PROD's tables and statistics");
    if (!prod_connect(&rh, &err) || !find_tables(&rh, &err) || !dump_schema(&rh, &err))
        goto fail;
    for (size_t i = 0; i < rh.n_tables; i++) {
        dg_table_t *t = &rh.tables[i];
        t->rows = (int64_t)llround((double)t->prod_rows * scale);
        /* a table only referenced (orgs, countries) keeps up to 10,000 of its rows: its key
         * count is a fixed count in the referencing column's statistics */
        if (i != rh.main_table && t->rows < t->prod_rows && t->rows < 10000)
            t->rows = t->prod_rows < 10000 ? t->prod_rows : 10000;
        if (t->rows < 1)
            t->rows = 1;
        json_array_append_new(
            tables, json_pack("{s:s, s:s, s:I, s:I, s:I}", "schema", t->schema, "table", t->name,
                              "prod_rows", (json_int_t)t->prod_rows, "prod_bytes",
                              (json_int_t)t->prod_bytes, "rows", (json_int_t)t->rows));
    }
    rh.st = pg_connect(req->staging, &err);
    if (rh.st == NULL)
        goto fail;
    if (pg_exec(rh.st, "SET application_name = '" APP_REHEARSE "'") != PG_OK) {
        err = xasprintf("STAGING: %s", pg_errmsg(rh.st));
        goto fail;
    }
    events_line(ev, EVT_INFO, req->m->name, 0,
                "rehearse: generating %zu table(s) on STAGING from PROD's statistics (scale %g)",
                rh.n_tables, scale);
    if (!build_staging(&rh, true, &err))
        goto fail;
    for (size_t i = 0; i < rh.n_tables; i++) {
        json_t *c = datagen_compare(rh.prod, rh.st, &rh.tables[i], &err);
        if (c == NULL)
            goto fail;
        if (rh.stats == NULL)
            rh.stats = json_array();
        json_array_append_new(rh.stats, c);
    }
    /* the traffic */
    if (req->traffic) {
        rh.scripts[0] = xstrdup(req->traffic);
        rh.n_scripts = 1;
        rh.traffic_kind = xasprintf("pgbench script %s", req->traffic);
    } else {
        if (!default_scripts(rh.dir, &rh.tables[rh.main_table], rh.changed_col, rh.scripts, &err))
            goto fail;
        rh.n_scripts = 2;
        rh.traffic_kind = xstrdup("default mix: primary-key reads and single-row updates, 4:1");
    }
    /* the sampler, on its own connection */
    {
        sb_t arr;
        sb_init(&arr);
        sb_putc(&arr, '{');
        for (size_t i = 0; i < rh.n_tables; i++) {
            qname_t q = {rh.tables[i].schema, rh.tables[i].name};
            char *qn = qname_sql(&q);
            array_add(&arr, qn);
            free(qn);
        }
        sb_putc(&arr, '}');
        rh.sp.tables = sb_steal(&arr);
    }
    rh.sp.pg = pg_connect(req->staging, &err);
    if (rh.sp.pg == NULL)
        goto fail;
    pg_exec(rh.sp.pg, "SET application_name = '" APP_SAMPLER "'");
    rh.sp.mono0 = rh.mono0;
    pthread_mutex_init(&rh.sp.mu, NULL);
    if (!sampler_start(&rh.sp)) {
        err = xstrdup("cannot start the sampler thread");
        goto fail;
    }
    sampler_started = true;
    if (req->baseline_psql) {
        json_t *b;
        events_line(ev, EVT_INFO, req->m->name, 0,
                    "rehearse: baseline: the file as written, with psql, under traffic");
        b = run_phase(&rh, 1, true, ev, &err);
        if (b == NULL)
            goto fail;
        json_array_append_new(rh.phases, b);
        /* a fresh copy for convoy's run; the sampler pauses while the tables are replaced */
        sampler_stop(&rh.sp);
        sampler_started = false;
        events_line(ev, EVT_INFO, req->m->name, 0, "rehearse: a fresh copy for convoy's run");
        if (!build_staging(&rh, false, &err))
            goto fail;
        if (!sampler_start(&rh.sp)) {
            err = xstrdup("cannot start the sampler thread");
            goto fail;
        }
        sampler_started = true;
    }
    review_begin(&rh, ev);
    events_line(ev, EVT_INFO, req->m->name, 0,
                "rehearse: convoy apply on STAGING under traffic (%s)", rh.traffic_kind);
    conv = run_phase(&rh, 2, false, ev, &err);
    if (conv == NULL)
        goto fail;
    review_end(&rh);
    json_array_append_new(rh.phases, conv);
    sampler_stop(&rh.sp);
    sampler_started = false;

    report = json_object();
    json_object_set_new(report, "v", json_integer(1));
    json_object_set_new(report, "migration", json_string(req->m->name));
    json_object_set_new(report, "file", json_string(req->file));
    json_object_set_new(report, "source", json_string(req->m->text));
    json_object_set_new(report, "scale", json_real(scale));
    json_object_set_new(report, "started_at_ms", json_integer(rh.wall0));
    json_object_set_new(report, "tables", tables);
    tables = NULL;
    json_object_set_new(report, "main_table", json_string(rh.tables[rh.main_table].name));
    json_object_set_new(report, "generation", rh.generation ? rh.generation : json_array());
    rh.generation = NULL;
    json_object_set_new(report, "statistics", rh.stats ? rh.stats : json_array());
    rh.stats = NULL;
    json_object_set_new(report, "traffic",
                        json_pack("{s:s, s:i}", "kind", rh.traffic_kind, "clients",
                                  req->clients > 0 ? req->clients : 4));
    json_object_set_new(report, "sample_ms", json_integer(SAMPLE_MS));
    json_object_set_new(report, "replicas", json_integer(rh.sp.replicas));
    json_object_set_new(report, "risk", assess(&rh, conv, &directive));
    /* EXPLAIN review (issue 9, section 2): include/convoy/explain.h's engine API goes here
     * once it exists; the report has the slot */
    json_object_set_new(report, "explain_review", rh.review ? rh.review : json_null());
    rh.review = NULL;
    json_object_set_new(report, "phases", rh.phases);
    rh.phases = NULL;
    out->result = RES_DONE;
    out->report = report;
    out->markdown = rehearse_markdown(report);
    out->html = rehearse_html(report);
    goto cleanup;
fail:
    out->result = run_ctl_stopped(ctl) ? RES_INTERRUPTED : RES_ERROR;
    out->message = err ? err : xstrdup("the rehearsal failed");
    err = NULL;
cleanup:
    if (sampler_started)
        sampler_stop(&rh.sp);
    free(err);
    free(directive);
    json_decref(tables);
    json_decref(rh.phases);
    json_decref(rh.generation);
    json_decref(rh.stats);
    json_decref(rh.review);
    json_decref(rh.rv_stmts);
    json_decref(rh.rv_before);
    free(rh.rv_why);
    for (size_t i = 0; i < rh.n_tables; i++)
        datagen_table_free(&rh.tables[i]);
    free(rh.dump);
    free(rh.scripts[0]);
    free(rh.scripts[1]);
    free(rh.traffic_kind);
    free(rh.changed_col);
    free(rh.sp.tables);
    free(rh.sp.s);
    free(rh.sp.iv);
    pg_close(&rh.sp.pg);
    pg_close(&rh.st);
    pg_close(&rh.prod);
    if (rh.dir[0] && getenv("CONVOY_REHEARSE_KEEP") == NULL)
        remove_dir(rh.dir);
}

void
rehearse_out_free(rehearse_out_t *o)
{
    if (o == NULL)
        return;
    free(o->message);
    json_decref(o->report);
    free(o->markdown);
    free(o->html);
    memset(o, 0, sizeof(*o));
}
