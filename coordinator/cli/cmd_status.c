/* cmd_status.c: `convoy status` and `convoy audit`: read the durable state, typed. */
#include "cli.h"
#include "convoy/log.h"
#include "convoy/plan.h"
#include "convoy/state.h"
#include "convoy/util.h"

#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Type OIDs from PostgreSQL's pg_type.dat (stable across releases). */
enum {
    OID_BOOL = 16,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_JSON = 114,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701,
    OID_NUMERIC = 1700,
    OID_JSONB = 3802,
};

/* One cell as a typed JSON value: numbers, booleans, JSON (timestamps via to_json), null. */
static json_t *
cell_json(PGresult *r, int row, int col)
{
    const char *v = PQgetvalue(r, row, col);
    json_t *j;

    if (PQgetisnull(r, row, col))
        return json_null();
    switch (PQftype(r, col)) {
    case OID_BOOL:
        return json_boolean(v[0] == 't');
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
        return json_integer(strtoll(v, NULL, 10));
    case OID_FLOAT4:
    case OID_FLOAT8:
    case OID_NUMERIC:
        return json_real(strtod(v, NULL));
    case OID_JSON:
    case OID_JSONB:
        j = json_loads(v, JSON_DECODE_ANY, NULL);
        return j ? j : json_string(v);
    default:
        return json_string(v);
    }
}

/*
 * The audit log's locks text, "MODE on TABLE; MODE on TABLE", as plan --json writes locks:
 * [{"table": ..., "mode": ...}]. An entry starts where "; " is followed by a lock mode name.
 */
static json_t *
locks_json(const char *text)
{
    json_t *arr = json_array();
    const char *s = text;

    while (s && *s) {
        const char *end = s, *on;
        char *entry;

        for (;;) {
            bool starts_entry = false;
            end = strstr(end, "; ");
            if (end == NULL)
                break;
            for (int m = LOCK_ACCESS_SHARE; m <= LOCK_ACCESS_EXCLUSIVE && !starts_entry; m++) {
                const char *name = lock_mode_name((lock_mode_t)m);
                starts_entry = strncmp(end + 2, name, strlen(name)) == 0;
            }
            if (starts_entry)
                break;
            end += 2;
        }
        entry = end ? xstrndup(s, (size_t)(end - s)) : xstrdup(s);
        on = strstr(entry, " on ");
        if (on)
            json_array_append_new(arr, json_pack("{s:s, s:s%}", "table", on + 4, "mode", entry,
                                                 (size_t)(on - entry)));
        else
            json_array_append_new(arr, json_pack("{s:n, s:s}", "table", "mode", entry));
        free(entry);
        s = end ? end + 2 : NULL;
    }
    return arr;
}

/* The rows as typed JSON objects keyed by column name. */
static json_t *
rows_json(PGresult *r)
{
    json_t *arr = json_array();

    for (int i = 0; i < PQntuples(r); i++) {
        json_t *o = json_object();
        for (int k = 0; k < PQnfields(r); k++) {
            json_t *v = cell_json(r, i, k);
            if (strcmp(PQfname(r, k), "locks") == 0 && json_is_string(v)) {
                json_t *parsed = locks_json(json_string_value(v));
                json_decref(v);
                v = parsed;
            }
            json_object_set_new(o, PQfname(r, k), v);
        }
        json_array_append_new(arr, o);
    }
    return arr;
}

/*
 * Key names follow plan --json where they overlap: "migration" for the name, and next_step
 * carries a plan step's "n", "kind" and "summary". Timestamps are ISO 8601 through to_json.
 */
static const char status_sql[] =
    "SELECT m.name AS migration, m.status, m.current_step, m.n_steps, m.started_by, "
    "to_json(m.started_at) AS started_at, to_json(m.updated_at) AS updated_at, "
    "to_json(m.finished_at) AS finished_at, m.error, "
    "(SELECT json_build_object('n', s.n, 'kind', s.kind, 'summary', s.summary, "
    "'status', s.status, 'attempts', s.attempts) FROM convoy.steps s "
    "WHERE s.migration = m.name AND s.status <> 'done' ORDER BY s.n LIMIT 1) AS next_step, "
    "(SELECT json_build_object('step', b.step, 'rows_done', b.rows_done, "
    "'rows_total', b.rows_total, 'batches', b.batches, 'batch_size', b.batch_size, "
    "'updated_at', b.updated_at) FROM convoy.backfill b WHERE b.migration = m.name "
    "ORDER BY b.updated_at DESC LIMIT 1) AS backfill, "
    /* the lease is held while the driver's session holds its advisory lock */
    "(SELECT l.holder FROM convoy.lease l JOIN pg_locks k ON k.locktype = 'advisory' AND "
    "k.classid = 1668247158 AND k.objid = l.lock_key AND k.objsubid = 2 AND k.granted "
    "WHERE l.migration = m.name) AS lease_holder, "
    "(SELECT l.token FROM convoy.lease l WHERE l.migration = m.name) AS lease_token, "
    "m.hold_reason, to_json(m.held_since) AS held_since, m.cluster, m.overrides, "
    /* what the driving coordinator last saw of each node */
    "(SELECT json_agg(json_build_object('node', f.node, 'role', f.role, 'state', f.state, "
    "'lag_ms', f.lag_ms, 'lag_bytes', f.lag_bytes, 'replay_lsn', f.replay_lsn, 'detail', "
    "f.detail, 'coordinator', f.coordinator, 'age_s', round(extract(epoch FROM now() - "
    "f.seen_at)::numeric, 1)) ORDER BY f.node) FROM convoy.fleet f WHERE f.cluster = "
    "m.cluster) AS fleet "
    "FROM convoy.migrations m WHERE $1::text IS NULL OR m.name = $1 "
    "ORDER BY m.started_at";

static const char audit_sql[] =
    "SELECT id, to_json(at) AS at, migration, step, actor, db_user, action, outcome, "
    "duration_ms, rows, locks, sql, detail, token "
    "FROM convoy.audit WHERE $1::text IS NULL OR migration = $1 ORDER BY id";

static const char *
str_field(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool
has_field(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return v != NULL && !json_is_null(v);
}

/* A JSON number or "?" for people. */
static const char *
num_text(const json_t *o, const char *key, char *buf, size_t len)
{
    const json_t *v = json_object_get(o, key);

    if (!json_is_integer(v))
        return "?";
    snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    return buf;
}

/*
 * An ISO 8601 timestamp ("2024-05-01T12:34:56.123456+00:00") for people:
 * "2024-05-01 12:34:56+00:00", with milliseconds when with_ms.
 */
static const char *
ts_text(const json_t *o, const char *key, bool with_ms, char *buf, size_t len)
{
    const char *iso = str_field(o, key);
    const char *zone, *frac = NULL;
    size_t n_frac = 0;
    char ms[5] = "";

    if (iso == NULL)
        return "-";
    if (strlen(iso) < 19 || iso[10] != 'T')
        return iso;
    zone = iso + 19;
    if (*zone == '.') {
        frac = ++zone;
        while (isdigit((unsigned char)*zone))
            zone++;
        n_frac = (size_t)(zone - frac);
    }
    if (with_ms) {
        ms[0] = '.';
        for (int k = 0; k < 3; k++)
            ms[k + 1] = (size_t)k < n_frac ? frac[k] : '0';
    }
    snprintf(buf, len, "%.10s %.8s%s%s", iso, iso + 11, ms, zone);
    return buf;
}

/* One line per node: state, lag, and how old the coordinator's view is. */
static void
print_fleet(const json_t *fleet)
{
    size_t i;
    const json_t *f;

    json_array_foreach(fleet, i, f)
    {
        const json_t *lag = json_object_get(f, "lag_ms");
        const json_t *bytes = json_object_get(f, "lag_bytes");
        const json_t *age = json_object_get(f, "age_s");
        printf("    %-8s %-8s %-8s", str_field(f, "role"), str_field(f, "node"),
               str_field(f, "state"));
        if (json_is_integer(lag))
            printf(" lag %.1f s", (double)json_integer_value(lag) / 1000.0);
        if (json_is_integer(bytes))
            printf(" (%lld bytes)", (long long)json_integer_value(bytes));
        printf("  %s", str_field(f, "detail") ? str_field(f, "detail") : "");
        if (json_is_number(age))
            printf("  (seen %.1f s ago)", json_number_value(age));
        putchar('\n');
    }
}

static void
print_status(const json_t *rows)
{
    size_t i;
    const json_t *o;

    json_array_foreach(rows, i, o)
    {
        char a[32], b[32], t1[64], t2[64];
        const json_t *next = json_object_get(o, "next_step");
        const json_t *bf = json_object_get(o, "backfill");

        printf("%s  %s  step %s/%s  started %s  updated %s\n", str_field(o, "migration"),
               str_field(o, "status"), num_text(o, "current_step", a, sizeof(a)),
               num_text(o, "n_steps", b, sizeof(b)), ts_text(o, "started_at", false, t1, 64),
               ts_text(o, "updated_at", false, t2, 64));
        if (json_is_object(next))
            printf("    next: %s\n", str_field(next, "summary") ? str_field(next, "summary")
                                                                : str_field(next, "kind"));
        if (json_is_object(bf))
            printf("    backfill: %s of %s rows\n", num_text(bf, "rows_done", a, sizeof(a)),
                   num_text(bf, "rows_total", b, sizeof(b)));
        if (has_field(o, "lease_holder"))
            printf("    driven by: %s\n", str_field(o, "lease_holder"));
        if (has_field(o, "hold_reason"))
            printf("    %s\n", str_field(o, "hold_reason"));
        print_fleet(json_object_get(o, "fleet"));
        if (has_field(o, "error"))
            printf("    error: %s\n", str_field(o, "error"));
    }
}

static void
print_audit(const json_t *rows)
{
    size_t i, k;
    const json_t *o, *l;

    json_array_foreach(rows, i, o)
    {
        char n[32], t[64];
        const json_t *locks = json_object_get(o, "locks");

        printf("%s  %s  %s", ts_text(o, "at", true, t, sizeof(t)),
               has_field(o, "migration") ? str_field(o, "migration") : "-", str_field(o, "action"));
        if (has_field(o, "step"))
            printf(" step %s", num_text(o, "step", n, sizeof(n)));
        printf("  %s  by %s (db user %s)", str_field(o, "outcome"), str_field(o, "actor"),
               str_field(o, "db_user"));
        if (has_field(o, "duration_ms"))
            printf("  %s ms", num_text(o, "duration_ms", n, sizeof(n)));
        if (has_field(o, "rows"))
            printf("  %s rows", num_text(o, "rows", n, sizeof(n)));
        putchar('\n');
        if (json_array_size(locks) > 0) {
            printf("    locks:");
            json_array_foreach(locks, k, l)
            {
                const char *table = str_field(l, "table");
                printf("%s %s%s%s", k ? ";" : "", str_field(l, "mode"), table ? " on " : "",
                       table ? table : "");
            }
            putchar('\n');
        }
        if (has_field(o, "sql"))
            printf("    sql: %s\n", str_field(o, "sql"));
        if (has_field(o, "detail"))
            printf("    detail: %s\n", str_field(o, "detail"));
    }
}

/*
 * Runs a state query whose $1 is the optional NAME filter and prints its rows, as JSON or
 * for people. An unknown NAME was refused before this runs (cli_require_migration).
 */
static int
show_state(const cli_opts_t *o, const char *what, const char *sql, void (*print)(const json_t *))
{
    pg_t *pg = cli_connect(o);
    const char *p[1] = {o->name};
    PGresult *r = NULL;
    json_t *rows = NULL;
    int rc = EXIT_ERROR;

    if (pg == NULL)
        return EXIT_ERROR;
    if (!state_schema_exists(pg)) {
        /* No migration has run here yet: the list is empty. */
        if (o->json)
            cli_print_json(json_array());
        else
            printf("no convoy %s in this database yet\n", what);
        rc = EXIT_OK;
        goto done;
    }
    {
        /* an older convoy's schema: upgrade it (additive) so every column exists */
        char *err = NULL;
        if (!state_ensure_schema(pg, &err)) {
            fprintf(stderr, "convoy: %s\n", err);
            free(err);
            goto done;
        }
    }
    log_debug("reading the %s%s%s", what, o->name ? " of " : "", o->name ? o->name : "");
    if (pg_run(pg, sql, 1, p, &r) != PG_OK) {
        fprintf(stderr, "convoy: reading the %s: %s\n", what, pg_errmsg(pg));
        goto done;
    }
    rows = rows_json(r);
    if (o->json) {
        cli_print_json(rows);
        rows = NULL;
    } else {
        print(rows);
    }
    rc = EXIT_OK;
done:
    json_decref(rows);
    PQclear(r);
    pg_close(&pg);
    return rc;
}

/* ---- status --watch ------------------------------------------------------------------ */

static volatile sig_atomic_t watch_stop;

static void
on_watch_signal(int sig)
{
    (void)sig;
    watch_stop = 1;
}

/* rows/s of a migration's backfill, from successive refreshes (smoothed) */
typedef struct {
    char name[128];
    int step;
    int64_t t_ms, rows;
    double rate;
} watch_rate_t;

static double
watch_rate(watch_rate_t *rates, size_t cap, const char *name, int step, int64_t rows, int64_t now)
{
    watch_rate_t *r = NULL;

    for (size_t i = 0; i < cap && r == NULL; i++)
        if (rates[i].name[0] == '\0' || strcmp(rates[i].name, name) == 0)
            r = &rates[i];
    if (r == NULL)
        return 0;
    if (r->name[0] == '\0' || r->step != step || rows < r->rows) {
        snprintf(r->name, sizeof(r->name), "%s", name);
        r->step = step;
        r->rows = rows;
        r->t_ms = now;
        r->rate = 0;
        return 0;
    }
    if (rows > r->rows && now > r->t_ms) {
        double inst = (double)(rows - r->rows) * 1000.0 / (double)(now - r->t_ms);
        r->rate = r->rate > 0 ? 0.6 * r->rate + 0.4 * inst : inst;
        r->rows = rows;
        r->t_ms = now;
    } else if (now - r->t_ms > 3000) {
        r->rate = 0; /* nothing moved for 3 s */
    }
    return r->rate;
}

static bool
finished(const char *st)
{
    return st && (!strcmp(st, "done") || !strcmp(st, "aborted") || !strcmp(st, "failed") ||
                  !strcmp(st, "blocked"));
}

/* One refresh: a line per migration (two or three while it runs), the gates, the fleet. */
static void
print_compact(const json_t *rows, const json_t *gates, watch_rate_t *rates, size_t cap, int64_t now)
{
    size_t i, k, n_done = 0, shown_done = 0;
    const json_t *o, *fleet = NULL;

    json_array_foreach(rows, i, o) n_done += finished(str_field(o, "status"));
    json_array_foreach(rows, i, o)
    {
        const char *name = str_field(o, "migration"), *st = str_field(o, "status");
        const json_t *bf = json_object_get(o, "backfill"), *g;
        char a[32], b[32];

        if (json_is_array(json_object_get(o, "fleet")) && (fleet == NULL || !finished(st)))
            fleet = json_object_get(o, "fleet");
        if (finished(st) && n_done - shown_done++ > 5)
            continue; /* the 5 most recent finished ones */
        printf("%-28s %-11s step %s/%s", name, st, num_text(o, "current_step", a, sizeof(a)),
               num_text(o, "n_steps", b, sizeof(b)));
        if (json_is_object(bf) && !finished(st)) {
            int64_t done = json_integer_value(json_object_get(bf, "rows_done"));
            int64_t total = json_integer_value(json_object_get(bf, "rows_total"));
            int step = (int)json_integer_value(json_object_get(bf, "step"));
            double rate = watch_rate(rates, cap, name, step, done, now);
            bool moving = strcmp(st, "running") == 0 && !has_field(o, "hold_reason");
            char eta[32] = "?";
            if (rate > 0 && moving && total > done)
                format_duration((int64_t)((double)(total - done) * 1000.0 / rate), eta,
                                sizeof(eta));
            printf("  backfill %5.1f%%  %lld/%lld rows  %.0f rows/s  ETA %s",
                   total > 0 ? 100.0 * (double)done / (double)total : 0.0, (long long)done,
                   (long long)total, moving ? rate : 0.0, moving ? eta : st);
        }
        putchar('\n');
        if (has_field(o, "hold_reason") && !finished(st))
            printf("    %s\n", str_field(o, "hold_reason"));
        if (has_field(o, "error") && !finished(st))
            printf("    error: %s\n", str_field(o, "error"));
        if (!finished(st) || strcmp(st, "done") == 0) {
            bool any = false;
            json_array_foreach(gates, k, g)
            {
                if (strcmp(str_field(g, "migration"), name) != 0)
                    continue;
                printf("%s%s %s", any ? ", " : "    gates: ", str_field(g, "gate"),
                       str_field(g, "state"));
                any = true;
            }
            if (any)
                putchar('\n');
        }
    }
    if (n_done > 5)
        printf("(%zu older finished migrations not shown)\n", n_done - 5);
    if (json_array_size(fleet) > 0) {
        printf("fleet:");
        json_array_foreach(fleet, i, o)
        {
            const json_t *lag = json_object_get(o, "lag_ms");
            printf("%s %s %s", i ? " |" : "", str_field(o, "node"), str_field(o, "state"));
            if (json_is_integer(lag))
                printf(" %.1f s", (double)json_integer_value(lag) / 1000.0);
        }
        putchar('\n');
    }
}

/* convoy status --watch: the state every second until SIGINT/SIGTERM. */
static int
watch_status(const cli_opts_t *o)
{
    const char *p[1] = {o->name};
    watch_rate_t rates[64];
    bool tty = isatty(STDOUT_FILENO);
    pg_t *pg = NULL;
    struct sigaction sa;

    memset(rates, 0, sizeof(rates));
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_watch_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    while (!watch_stop) {
        PGresult *r = NULL, *g = NULL;
        int64_t now = now_mono_ms(), wall = now_wall_ms();
        char at[16];

        snprintf(at, sizeof(at), "%02lld:%02lld:%02lld", (long long)(wall / 3600000 % 24),
                 (long long)(wall / 60000 % 60), (long long)(wall / 1000 % 60));
        if (pg == NULL && (pg = cli_connect(o)) == NULL) {
            fprintf(stderr, "convoy: %s UTC: cannot connect; trying again\n", at);
        } else if (!state_schema_exists(pg)) {
            if (PQstatus(pg->conn) != CONNECTION_OK)
                pg_close(&pg);
            if (tty)
                fputs("\033[H\033[2J", stdout);
            printf("convoy status --watch  %s UTC: no convoy migrations in this database yet\n",
                   at);
        } else if (pg_run(pg, status_sql, 1, p, &r) != PG_OK ||
                   pg_run(pg,
                          "SELECT migration, gate, state FROM convoy.gates WHERE $1::text IS NULL "
                          "OR migration = $1 ORDER BY migration, gate",
                          1, p, &g) != PG_OK) {
            fprintf(stderr, "convoy: %s UTC: reading the migrations: %s\n", at, pg_errmsg(pg));
            pg_close(&pg);
        } else {
            json_t *rows = rows_json(r), *gates = rows_json(g);
            if (o->json) {
                json_t *doc =
                    json_pack("{s:s, s:o, s:o}", "at", at, "migrations", rows, "gates", gates);
                char *line = json_dumps(doc, JSON_COMPACT);
                printf("%s\n", line);
                free(line);
                json_decref(doc);
            } else {
                if (tty)
                    fputs("\033[H\033[2J", stdout); /* home, clear */
                else
                    putchar('\n');
                printf("convoy status --watch  %s UTC  (every 1 s; Ctrl-C stops)\n", at);
                print_compact(rows, gates, rates, sizeof(rates) / sizeof(rates[0]), now);
                json_decref(rows);
                json_decref(gates);
            }
        }
        PQclear(r);
        PQclear(g);
        fflush(stdout);
        for (int k = 0; k < 10 && !watch_stop; k++)
            run_ctl_sleep(NULL, 100);
    }
    pg_close(&pg);
    return EXIT_OK;
}

int
cmd_status(const cli_opts_t *o)
{
    if (o->watch)
        return watch_status(o);
    return show_state(o, "migrations", status_sql, print_status);
}

int
cmd_audit(const cli_opts_t *o)
{
    return show_state(o, "audit log", audit_sql, print_audit);
}
