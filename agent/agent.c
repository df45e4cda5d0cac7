/*
 * agent.c: the agent's loop.
 *
 * One thread, one zmq_poll: a DEALER per coordinator (and a monitor socket beside each, so
 * connects, disconnects and refused handshakes are logged once per change), a self-pipe for
 * signals, and a timeout up to the next heartbeat tick, wait_lsn deadline or database
 * reconnect. Every tick samples the database once and sends that REPORT to every
 * coordinator. Database work is synchronous but bounded (connect_timeout, keepalives and
 * statement_timeout), so a hung database delays reports by seconds, never forever.
 *
 * role = cache: the tick also runs the outbox worker (outbox.c) before it samples, and the
 * loop runs it again at once while it finds work (or when a purge's rate or Redis' backoff
 * allows), so a backlog drains between heartbeats without ever holding the reports.
 *
 * role = app: the tick reads the app's error counter file (health.c) once and reports the
 * error rate over about the last second with app_version. conninfo is optional there: without
 * it no database is used and db_ok is true.
 */
#include "agent.h"

#include "convoy/log.h"
#include "convoy/pg.h"
#include "convoy/transport.h"
#include "convoy/util.h"
#include "health.h"
#include "metrics.h"
#include "outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#ifndef CONVOY_VERSION
#error "CONVOY_VERSION must be defined by the build (the CMake project version)"
#endif

#define SOFTWARE          "convoy-agent " CONVOY_VERSION
#define SILENT_INTERVALS  3    /* HELLO again after this many heartbeats without a frame */
#define DB_BACKOFF_MIN_MS 100  /* reconnect to the database after 100 ms, doubling... */
#define DB_BACKOFF_MAX_MS 5000 /* ...up to 5 s */
#define MAX_WAITS         1024
#define MAX_FRAMES_PER_IO 256  /* per coordinator and poll, so one peer cannot starve the loop */
#define REDIAL_MIN_MS     500  /* after a refused handshake, dial again after 0.5 s... */
#define REDIAL_MAX_MS     5000 /* ...doubling up to 5 s, like libzmq's own reconnects */

/* Session settings: one sample must never hold the loop (or a lock) for long. */
#define SESSION_SQL                                                                                \
    "SET statement_timeout = '2s'; SET lock_timeout = '500ms'; "                                   \
    "SET idle_in_transaction_session_timeout = '10s'"

typedef enum { LINK_DOWN, LINK_TCP, LINK_UP, LINK_FAILED } link_state_t;

typedef struct {
    char *endpoint;
    void *sock;
    void *mon;
    link_state_t link;
    int fail_logged;    /* the handshake failures (event bits) logged since the last success */
    int64_t last_rx;    /* monotonic ms of the last frame that decoded */
    int64_t last_hello; /* monotonic ms of the last HELLO sent, -1 never */
    bool awaiting;      /* a HELLO went out and nothing has come back since */
    bool silent;        /* the silence rule fired and nothing has come back since */
    bool hello_on_link; /* a HELLO went out on the current connection */
    char *coordinator;  /* the id of its last WELCOME */
    uint32_t welcome_hb;
    uint32_t error_code; /* the last ERROR code logged (once per change) */
    int64_t redial_at;   /* after a refused handshake: reconnect then (0: not needed) */
    int64_t redial_backoff;
    unsigned long complaints; /* protocol complaints not logged (at most one line a second) */
    int64_t complained;       /* monotonic ms of the last one logged */
} coord_t;

typedef struct {
    size_t coord;
    uint64_t id;
    uint64_t lsn;
    uint32_t timeout_ms;
    int64_t deadline;
    char *migration;
} wait_t;

typedef struct {
    agent_config_t cfg;
    void *zctx;
    coord_t *coords;
    size_t n_coords;

    pg_t *pg;
    int64_t db_retry_at;
    int64_t db_backoff;
    char *db_status; /* "" while reports succeed, else the last error logged */
    metrics_state_t ms;
    bool pos_known; /* the position wait_lsn compares with, from the last sample */
    uint64_t pos;

    uint64_t seq;
    int64_t hb_ms;
    int64_t next_tick;
    wait_t *waits;
    size_t n_waits;
    bool stop;
    bool leaving; /* the last REPORT: this node leaves the fleet (a clean stop) */

    outbox_t *outbox;   /* role = cache */
    int64_t cache_next; /* run the worker again at this time (INT64_MAX: at the next tick) */

    rate_t rate;              /* role = app: the error counter's samples */
    char *counter_status;     /* "" while the counter reads, else the last error logged; NULL:
                               * not read yet (the first read is logged either way) */
    int64_t counter_down_log; /* monotonic ms of the last "went down" line */
} agent_t;

/* ---- signals --------------------------------------------------------------------- */

static int sig_pipe[2] = {-1, -1};

static void
on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;

    if (write(sig_pipe[1], &b, 1) < 0) {
        /* the pipe is full: a wakeup is already pending */
    }
    errno = saved;
}

static bool
signals_install(void)
{
    struct sigaction sa;

    if (pipe(sig_pipe) != 0)
        return false;
    for (int i = 0; i < 2; i++) {
        fcntl(sig_pipe[i], F_SETFL, fcntl(sig_pipe[i], F_GETFL) | O_NONBLOCK);
        fcntl(sig_pipe[i], F_SETFD, FD_CLOEXEC);
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    /* hiredis writes without MSG_NOSIGNAL: a Redis that went away must be EPIPE, not death */
    signal(SIGPIPE, SIG_IGN);
    return true;
}

static void
signals_restore(void)
{
    signal(SIGHUP, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    for (int i = 0; i < 2; i++)
        if (sig_pipe[i] >= 0)
            close(sig_pipe[i]);
    sig_pipe[0] = sig_pipe[1] = -1;
}

/* ---- text from peers ------------------------------------------------------------ */

/* Text from the wire, safe for a log line or a reply: escaped, at most ~80 bytes. */
static const char *
printable(const char *s, char *buf, size_t len)
{
    return text_excerpt(s, s ? strlen(s) : 0, 80, buf, len);
}

/* A peer's protocol mistake: one warning a second at most, the rest counted (and shown
 * with -v), so a peer sending garbage cannot flood the log. */
static void complain(coord_t *c, int64_t now, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
complain(coord_t *c, int64_t now, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (c->complained != 0 && now - c->complained < 1000) {
        c->complaints++;
        log_debug("coordinator %s: %s", c->endpoint, line);
        return;
    }
    if (c->complaints)
        log_warn("coordinator %s: %s (and %lu more since the last such line)", c->endpoint, line,
                 c->complaints);
    else
        log_warn("coordinator %s: %s", c->endpoint, line);
    c->complaints = 0;
    c->complained = now;
}

/* ---- sending --------------------------------------------------------------------- */

static bool
send_msg(coord_t *c, wire_msg_t *m)
{
    bool ok = transport_send(c->sock, NULL, 0, m);

    if (!ok)
        log_debug("coordinator %s: %s not sent (not connected)", c->endpoint,
                  wire_type_name(m->type));
    return ok;
}

static void
send_hello(agent_t *a, coord_t *c, int64_t now, const char *why)
{
    Convoy__Wire__Hello h = CONVOY__WIRE__HELLO__INIT;
    char *roles[1] = {(char *)agent_role_name(a->cfg.role)};
    char *caps[2] = {"wait_lsn", "readers"};
    char *cache_caps[1] = {"cache"};
    char *app_caps[1] = {"app"};
    wire_msg_t m;

    h.n_roles = 1;
    h.roles = roles;
    h.software = SOFTWARE;
    if (a->cfg.role == AGENT_CACHE) {
        h.n_capabilities = 1;
        h.capabilities = cache_caps;
    } else if (a->cfg.role == AGENT_APP) {
        h.n_capabilities = 1;
        h.capabilities = app_caps;
    } else {
        h.n_capabilities = 2;
        h.capabilities = caps;
    }
    wire_init(&m, CONVOY__WIRE__MSG_TYPE__HELLO, a->cfg.node, ++a->seq, NULL);
    m.hello = &h;
    c->last_hello = now;
    if (!send_msg(c, &m))
        return;
    c->hello_on_link = true; /* with ZMQ_IMMEDIATE, a send succeeds only on a live connection */
    if (!c->awaiting)
        log_info("coordinator %s: HELLO sent (%s)", c->endpoint, why);
    else
        log_debug("coordinator %s: HELLO sent again (%s)", c->endpoint, why);
    c->awaiting = true;
}

static void
send_error(agent_t *a, coord_t *c, uint32_t code, const char *message, uint64_t in_reply_to)
{
    Convoy__Wire__Error e = CONVOY__WIRE__ERROR__INIT;
    wire_msg_t m;

    e.code = code;
    e.message = (char *)message;
    e.in_reply_to = in_reply_to;
    wire_init(&m, CONVOY__WIRE__MSG_TYPE__ERROR, a->cfg.node, ++a->seq, NULL);
    m.error = &e;
    send_msg(c, &m);
}

static void
send_result(agent_t *a, coord_t *c, const char *migration, Convoy__Wire__Result *res)
{
    wire_msg_t m;

    wire_init(&m, CONVOY__WIRE__MSG_TYPE__RESULT, a->cfg.node, ++a->seq, migration);
    m.result = res;
    send_msg(c, &m);
}

/* ---- database -------------------------------------------------------------------- */

static void
sb_put_quoted(sb_t *sb, const char *v)
{
    sb_putc(sb, '\'');
    for (; *v; v++) {
        if (*v == '\'' || *v == '\\')
            sb_putc(sb, '\\');
        sb_putc(sb, *v);
    }
    sb_putc(sb, '\'');
}

/*
 * The configured conninfo (key=value or URI) as key=value, plus the timeouts an agent
 * needs when it does not set them itself: a black-holed host must not hang the loop.
 */
static char *
conninfo_with_defaults(const char *conninfo)
{
    static const char *const defaults[][2] = {
        {"connect_timeout", "3"},  {"keepalives_idle", "10"},     {"keepalives_interval", "3"},
        {"keepalives_count", "3"}, {"tcp_user_timeout", "10000"},
    };
    char *perr = NULL;
    PQconninfoOption *opts;
    sb_t sb;

    if (strchr(conninfo, '=') == NULL && strncmp(conninfo, "postgres://", 11) != 0 &&
        strncmp(conninfo, "postgresql://", 13) != 0) {
        sb_init(&sb);
        sb_puts(&sb, "dbname=");
        sb_put_quoted(&sb, conninfo);
        opts = PQconninfoParse(sb.data, &perr);
        sb_free(&sb);
    } else {
        opts = PQconninfoParse(conninfo, &perr);
    }
    PQfreemem(perr);
    if (opts == NULL)
        return xstrdup(conninfo); /* pg_connect reports what is wrong with it */
    sb_init(&sb);
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (o->val == NULL)
            continue;
        sb_printf(&sb, "%s%s=", sb.len ? " " : "", o->keyword);
        sb_put_quoted(&sb, o->val);
    }
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
        bool set = false;
        for (PQconninfoOption *o = opts; o->keyword && !set; o++)
            set = o->val != NULL && strcmp(o->keyword, defaults[i][0]) == 0;
        if (strcmp(defaults[i][0], "connect_timeout") == 0 && getenv("PGCONNECT_TIMEOUT"))
            set = true;
        if (!set)
            sb_printf(&sb, "%s%s=%s", sb.len ? " " : "", defaults[i][0], defaults[i][1]);
    }
    PQconninfoFree(opts);
    return sb_steal(&sb);
}

/* Logs a change of the database's state once: "" is healthy, anything else an error. */
static void
db_note(agent_t *a, const char *status, const char *what)
{
    if (strcmp(a->db_status, status) == 0)
        return;
    if (status[0] == '\0')
        log_info("database: reports are back (db_ok)");
    else
        log_warn("database: %s: %s (db_ok = false until it recovers)", what, status);
    free(a->db_status);
    a->db_status = xstrdup(status);
}

static void
db_schedule_retry(agent_t *a, int64_t now)
{
    a->db_retry_at = now + a->db_backoff;
    log_debug("database: next connection attempt in %lld ms", (long long)a->db_backoff);
    a->db_backoff = a->db_backoff * 2 > DB_BACKOFF_MAX_MS ? DB_BACKOFF_MAX_MS : a->db_backoff * 2;
}

static void
db_connect(agent_t *a)
{
    char *ci = conninfo_with_defaults(a->cfg.conninfo);
    char *err = NULL, *line, *app = xasprintf("convoy-agent %s", a->cfg.node);

    /* pg_stat_activity tells this agent's session from the coordinator's ("convoy") */
    a->pg = pg_connect_as(ci, app, &err);
    free(app);
    memset(ci, 0, strlen(ci));
    free(ci);
    if (a->pg == NULL) {
        line = metrics_one_line(err);
        free(err);
        db_note(a, line, "cannot connect");
        free(line);
        db_schedule_retry(a, now_mono_ms());
        return;
    }
    if (pg_exec(a->pg, SESSION_SQL) != PG_OK)
        log_warn("database: cannot set the session's timeouts: %s", pg_errmsg(a->pg));
    log_info("database: connected (host %s, port %s, server %d, backend pid %d)",
             PQhost(a->pg->conn), PQport(a->pg->conn), PQserverVersion(a->pg->conn),
             pg_backend_pid(a->pg));
    a->db_backoff = DB_BACKOFF_MIN_MS;
    a->db_retry_at = 0;
    metrics_state_reset(&a->ms);
    /* role = cache: a write to the outbox wakes the worker at once (the schema's
     * outbox_notify trigger); without it the worker still polls at every tick */
    if (a->outbox && pg_exec(a->pg, "LISTEN " OUTBOX_CHANNEL) != PG_OK)
        log_warn("database: LISTEN %s failed (the outbox is polled at every tick only): %s",
                 OUTBOX_CHANNEL, pg_errmsg(a->pg));
    /* The worker's commits record work already done in Redis, and doing it again is
     * harmless: a record lost in a server crash only means the keys are unlinked again. So
     * its commits do not wait for the WAL flush, which a backfill's writes made take 3-68 ms
     * (docs/benchmarks.md, 2026-12-02). */
    if (a->outbox && pg_exec(a->pg, "SET synchronous_commit = off") != PG_OK)
        log_warn("database: SET synchronous_commit = off failed (each outbox batch waits for "
                 "its WAL flush): %s",
                 pg_errmsg(a->pg));
}

static void
db_lost(agent_t *a, const char *err, int64_t now)
{
    char *line = metrics_one_line(err);

    db_note(a, line, "connection lost");
    free(line);
    pg_close(&a->pg);
    a->pos_known = false;
    a->db_backoff = DB_BACKOFF_MIN_MS;
    db_schedule_retry(a, now);
}

/* After a query: reconnect later when the connection is gone. */
static void
db_check(agent_t *a, pg_status_t st, int64_t now)
{
    if (a->pg == NULL)
        return;
    if (st == PG_CONN_LOST || PQstatus(a->pg->conn) != CONNECTION_OK)
        db_lost(a, pg_errmsg(a->pg), now);
}

/* role = cache: true when a notification on the outbox channel came in (read from the
 * socket when it is readable, or left buffered by an earlier query). */
static bool
db_notified(agent_t *a, bool readable, int64_t now)
{
    PGnotify *n;
    bool any = false;

    if (a->pg == NULL)
        return false;
    if (readable && !PQconsumeInput(a->pg->conn)) {
        db_lost(a, PQerrorMessage(a->pg->conn), now); /* noticed here before the next query */
        return false;
    }
    while ((n = PQnotifies(a->pg->conn)) != NULL) {
        any = true;
        PQfreemem(n);
    }
    /* only a primary's outbox notifies (LISTEN fails on a standby): the table exists even
     * when no report since a reconnect has said so yet (a claim that fails with 42P01 says
     * otherwise again) */
    if (any)
        a->ms.invalidations_table = true;
    return any;
}

/* ---- wait_lsn -------------------------------------------------------------------- */

static void
answer_wait(agent_t *a, const wait_t *w, bool ok, uint64_t pos)
{
    Convoy__Wire__Result res = CONVOY__WIRE__RESULT__INIT;
    char msg[64] = "";
    char want[32], have[32];

    res.id = w->id;
    res.ok = ok;
    res.replay_lsn = pos;
    if (!ok)
        snprintf(msg, sizeof(msg), "timeout after %u ms", w->timeout_ms);
    res.message = msg;
    wire_lsn_format(w->lsn, want, sizeof(want));
    wire_lsn_format(pos, have, sizeof(have));
    if (ok)
        log_info("wait_lsn %llu: reached %s (now at %s)", (unsigned long long)w->id, want, have);
    else
        log_warn("wait_lsn %llu: %s before %s (at %s)", (unsigned long long)w->id, msg, want, have);
    send_result(a, &a->coords[w->coord], w->migration, &res);
}

static void
wait_remove(agent_t *a, size_t i)
{
    free(a->waits[i].migration);
    a->waits[i] = a->waits[--a->n_waits];
}

/* Answers the waits the position has reached, and (expire) those past their deadline. */
static void
waits_check(agent_t *a, int64_t now, bool expire)
{
    for (size_t i = 0; i < a->n_waits;) {
        wait_t *w = &a->waits[i];
        if (a->pos_known && a->pos >= w->lsn) {
            answer_wait(a, w, true, a->pos);
            wait_remove(a, i);
        } else if (expire && now >= w->deadline) {
            answer_wait(a, w, false, a->pos_known ? a->pos : 0);
            wait_remove(a, i);
        } else {
            i++;
        }
    }
}

static int64_t
waits_next_deadline(const agent_t *a)
{
    int64_t t = INT64_MAX;

    for (size_t i = 0; i < a->n_waits; i++)
        if (a->waits[i].deadline < t)
            t = a->waits[i].deadline;
    return t;
}

/* Deadlines passed: read the position afresh, then answer them. */
static void
waits_expire(agent_t *a, int64_t now)
{
    if (a->n_waits == 0 || waits_next_deadline(a) > now)
        return;
    if (a->pg) {
        uint64_t pos;
        bool known;
        pg_status_t st = metrics_position(a->pg, a->cfg.role, &pos, &known);
        if (st == PG_OK) {
            a->pos_known = known;
            a->pos = pos;
        }
        db_check(a, st, now);
    }
    waits_check(a, now, true);
}

static void
on_wait_lsn(agent_t *a, size_t ci, const wire_msg_t *m, int64_t now)
{
    const Convoy__Wire__Command *cmd = m->command;
    wait_t *w = NULL;
    char lsn[32];

    for (size_t i = 0; i < a->n_waits && w == NULL; i++)
        if (a->waits[i].coord == ci && a->waits[i].id == cmd->id)
            w = &a->waits[i]; /* the same command again: its latest terms win */
    if (w == NULL) {
        if (a->n_waits == MAX_WAITS) {
            Convoy__Wire__Result res = CONVOY__WIRE__RESULT__INIT;
            res.id = cmd->id;
            res.ok = false;
            res.message = "too many pending wait_lsn commands";
            send_result(a, &a->coords[ci], m->migration, &res);
            return;
        }
        w = &a->waits[a->n_waits++];
        memset(w, 0, sizeof(*w));
    }
    free(w->migration);
    w->coord = ci;
    w->id = cmd->id;
    w->lsn = cmd->lsn;
    w->timeout_ms = cmd->timeout_ms;
    w->deadline = now + cmd->timeout_ms;
    w->migration = xstrdup(m->migration ? m->migration : "");
    wire_lsn_format(cmd->lsn, lsn, sizeof(lsn));
    log_info("wait_lsn %llu from %s: waiting for %s %s (timeout %u ms)",
             (unsigned long long)cmd->id, a->coords[ci].endpoint,
             a->cfg.role == AGENT_PRIMARY ? "current_lsn" : "replay_lsn", lsn, cmd->timeout_ms);
    /* the last sample may already be there (positions only grow) */
    waits_check(a, now, false);
}

static void
on_readers(agent_t *a, size_t ci, const wire_msg_t *m, int64_t now)
{
    Convoy__Wire__Result res = CONVOY__WIRE__RESULT__INIT;
    const char *table = m->command->table ? m->command->table : "";
    pg_status_t st;
    char buf[128];

    res.id = m->command->id;
    if (table[0] == '\0') {
        res.ok = false;
        res.message = xstrdup("readers needs a table");
    } else if (a->pg == NULL) {
        res.ok = false;
        res.message =
            xasprintf("database unavailable: %s", a->db_status[0] ? a->db_status : "not connected");
    } else {
        st = metrics_readers(a->pg, table, &res);
        db_check(a, st, now);
    }
    log_info("readers %llu from %s: %s: %s, %zu session%s%s%s", (unsigned long long)res.id,
             a->coords[ci].endpoint, printable(table, buf, sizeof(buf)), res.ok ? "ok" : "failed",
             res.n_readers, res.n_readers == 1 ? "" : "s", res.message[0] ? ": " : "", res.message);
    send_result(a, &a->coords[ci], m->migration, &res);
    metrics_result_clear(&res);
}

/* ---- frames from a coordinator --------------------------------------------------- */

static void
set_heartbeat(agent_t *a, int64_t ms, int64_t now)
{
    a->hb_ms = ms;
    if (a->next_tick > now + ms)
        a->next_tick = now + ms;
}

static void
on_welcome(agent_t *a, coord_t *c, const Convoy__Wire__Welcome *w, bool was_awaiting, int64_t now)
{
    const char *id = w->coordinator ? w->coordinator : "";
    bool changed = c->coordinator == NULL || strcmp(c->coordinator, id) != 0 ||
                   c->welcome_hb != w->heartbeat_ms;
    char b1[128], b2[128];

    if (was_awaiting || changed)
        log_info("coordinator %s: WELCOME from %s (%s, heartbeat %u ms)", c->endpoint,
                 id[0] ? printable(id, b1, sizeof(b1)) : "?",
                 w->software && w->software[0] ? printable(w->software, b2, sizeof(b2)) : "?",
                 w->heartbeat_ms);
    else
        log_debug("coordinator %s: WELCOME again", c->endpoint);
    free(c->coordinator);
    c->coordinator = xstrdup(id);
    c->welcome_hb = w->heartbeat_ms;
    if (w->heartbeat_ms == 0 || w->heartbeat_ms == a->hb_ms)
        return;
    if (w->heartbeat_ms < AGENT_HEARTBEAT_MIN_MS || w->heartbeat_ms > AGENT_HEARTBEAT_MAX_MS) {
        if (changed)
            log_warn("coordinator %s: WELCOME asks for a heartbeat of %u ms, outside %d to %d "
                     "ms; keeping %lld ms",
                     c->endpoint, w->heartbeat_ms, AGENT_HEARTBEAT_MIN_MS, AGENT_HEARTBEAT_MAX_MS,
                     (long long)a->hb_ms);
        return;
    }
    log_info("heartbeat: %u ms (was %lld ms), from the WELCOME of %s", w->heartbeat_ms,
             (long long)a->hb_ms, c->endpoint);
    set_heartbeat(a, w->heartbeat_ms, now);
}

static void
on_command(agent_t *a, size_t ci, const wire_msg_t *m, int64_t now)
{
    const char *kind = m->command->kind ? m->command->kind : "";

    if ((a->cfg.role == AGENT_CACHE || a->cfg.role == AGENT_APP) &&
        (strcmp(kind, "readers") == 0 || strcmp(kind, "wait_lsn") == 0)) {
        Convoy__Wire__Result res = CONVOY__WIRE__RESULT__INIT;
        const char *role = agent_role_name(a->cfg.role);
        char *msg = xasprintf("a%s %s agent (role = %s) runs no wait_lsn or readers commands",
                              a->cfg.role == AGENT_APP ? "n" : "", role, role);
        res.id = m->command->id;
        res.ok = false;
        res.message = msg;
        complain(&a->coords[ci], now, "%s %llu refused: this is a%s %s agent", kind,
                 (unsigned long long)m->command->id, a->cfg.role == AGENT_APP ? "n" : "", role);
        send_result(a, &a->coords[ci], m->migration, &res);
        free(msg);
    } else if (strcmp(kind, "readers") == 0) {
        on_readers(a, ci, m, now);
    } else if (strcmp(kind, "wait_lsn") == 0) {
        on_wait_lsn(a, ci, m, now);
    } else {
        char buf[128];
        char *msg = xasprintf("unknown command kind `%s`; this agent knows wait_lsn and readers",
                              printable(kind, buf, sizeof(buf)));
        complain(&a->coords[ci], now, "%s (command %llu, seq %llu)", msg,
                 (unsigned long long)m->command->id, (unsigned long long)m->seq);
        send_error(a, &a->coords[ci], CONVOY__WIRE__WIRE_ERROR__E_UNKNOWN_COMMAND, msg, m->seq);
        free(msg);
    }
}

static void
on_frame(agent_t *a, size_t ci, const transport_frame_t *f, int64_t now)
{
    coord_t *c = &a->coords[ci];
    wire_msg_t *m = NULL;
    char err[256];
    wire_status_t st = wire_decode(f->data, f->len, &m, err, sizeof(err));
    bool was_awaiting;

    if (st != WIRE_OK) {
        uint64_t in_reply_to = m ? m->seq : 0;
        complain(c, now, "refused a frame: %s", err);
        send_error(a, c, wire_status_error_code(st), err, in_reply_to);
        wire_free(m);
        return;
    }
    was_awaiting = c->awaiting;
    c->last_rx = now;
    c->awaiting = false;
    if (c->silent)
        log_info("coordinator %s: heard from it again (%s)", c->endpoint, wire_type_name(m->type));
    c->silent = false;
    if (c->link != LINK_UP) { /* the monitor may have missed the very first connect */
        log_info("coordinator %s: connected (%s)", c->endpoint,
                 a->cfg.insecure ? "INSECURE (no CURVE)" : "CURVE");
        c->link = LINK_UP;
    }
    switch (m->type) {
    case CONVOY__WIRE__MSG_TYPE__WELCOME:
        on_welcome(a, c, m->welcome, was_awaiting, now);
        break;
    case CONVOY__WIRE__MSG_TYPE__HEARTBEAT:
        log_debug("coordinator %s: HEARTBEAT seq %llu", c->endpoint, (unsigned long long)m->seq);
        break;
    case CONVOY__WIRE__MSG_TYPE__COMMAND:
        on_command(a, ci, m, now);
        break;
    case CONVOY__WIRE__MSG_TYPE__ACK:
        break;
    case CONVOY__WIRE__MSG_TYPE__ERROR:
        if (m->error->code != c->error_code)
            log_warn("coordinator %s: refused our frame seq %llu: %s (code %u)", c->endpoint,
                     (unsigned long long)m->error->in_reply_to,
                     printable(m->error->message, err, sizeof(err)), m->error->code);
        else
            log_debug("coordinator %s: ERROR %u again: %s", c->endpoint, m->error->code,
                      printable(m->error->message, err, sizeof(err)));
        c->error_code = m->error->code;
        break;
    default: {
        /* HELLO, REPORT, RESULT: agent -> coordinator only */
        char *msg = xasprintf("an agent does not accept %s messages", wire_type_name(m->type));
        complain(c, now, "%s (seq %llu)", msg, (unsigned long long)m->seq);
        send_error(a, c, CONVOY__WIRE__WIRE_ERROR__E_UNKNOWN_TYPE, msg, m->seq);
        free(msg);
        break;
    }
    }
    wire_free(m);
}

/* ---- the monitor: connection state, logged once per change ------------------------- */

static const char *
protocol_error_hint(uint32_t v)
{
    switch (v) {
    case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
        return "security mechanism mismatch: one side runs CURVE and the other does not "
               "(check insecure on both)";
    case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC:
    case ZMQ_PROTOCOL_ERROR_ZMTP_KEY_EXCHANGE:
        return "CURVE key exchange failed: is coordinator_key the coordinator's public key?";
    default:
        return "ZMTP protocol error";
    }
}

static void
on_monitor_event(agent_t *a, coord_t *c, int event, uint32_t value, int64_t now)
{
    switch (event) {
    case ZMQ_EVENT_CONNECTED:
        log_debug("coordinator %s: TCP connected", c->endpoint);
        if (c->link == LINK_DOWN)
            c->link = LINK_TCP;
        break;
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        if (c->link != LINK_UP)
            log_info("coordinator %s: connected (%s)", c->endpoint,
                     a->cfg.insecure ? "INSECURE (no CURVE)" : "CURVE");
        c->link = LINK_UP;
        c->fail_logged = 0;
        c->redial_backoff = 0;
        if (!c->hello_on_link) { /* "on connect", unless one already made it through */
            c->awaiting = false;
            send_hello(a, c, now, "connected");
        }
        break;
    case ZMQ_EVENT_DISCONNECTED:
        if (c->link == LINK_UP)
            log_warn("coordinator %s: connection lost; reconnecting", c->endpoint);
        if (c->link != LINK_FAILED)
            c->link = LINK_DOWN;
        c->hello_on_link = false;
        break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        if (!(c->fail_logged & event)) {
            if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
                log_error("coordinator %s: the coordinator refused this agent (ZAP status %u): "
                          "is this node's public key (%s) listed for node %s in the cluster "
                          "config? retrying",
                          c->endpoint, value, a->cfg.keys.public_z85, a->cfg.node);
            else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
                log_error("coordinator %s: handshake failed: %s (0x%x); retrying", c->endpoint,
                          protocol_error_hint(value), value);
            else
                log_error("coordinator %s: handshake failed: %s%s; retrying", c->endpoint,
                          strerror((int)value),
                          a->cfg.insecure ? ""
                                          : " (is coordinator_key the coordinator's public key?)");
        }
        c->link = LINK_FAILED;
        c->fail_logged |= event;
        /* libzmq gives up on a connection whose handshake failed (no automatic reconnect):
         * dial again ourselves, backing off */
        if (c->redial_at == 0) {
            c->redial_backoff = c->redial_backoff ? c->redial_backoff * 2 : REDIAL_MIN_MS;
            if (c->redial_backoff > REDIAL_MAX_MS)
                c->redial_backoff = REDIAL_MAX_MS;
            c->redial_at = now + c->redial_backoff;
        }
        break;
    default:
        break;
    }
}

static void
drain_monitor(agent_t *a, coord_t *c, int64_t now)
{
    for (int n = 0; n < MAX_FRAMES_PER_IO; n++) {
        zmq_msg_t msg;
        uint16_t event;
        uint32_t value;
        int more = 0;
        size_t ms = sizeof(more);

        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, c->mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            return;
        }
        if (zmq_msg_size(&msg) >= 6) {
            const uint8_t *d = zmq_msg_data(&msg);
            memcpy(&event, d, 2);
            memcpy(&value, d + 2, 4);
        } else {
            event = 0;
            value = 0;
        }
        zmq_getsockopt(c->mon, ZMQ_RCVMORE, &more, &ms);
        zmq_msg_close(&msg);
        while (more) { /* the endpoint: we know it */
            zmq_msg_init(&msg);
            if (zmq_msg_recv(&msg, c->mon, ZMQ_DONTWAIT) < 0)
                more = 0;
            else
                zmq_getsockopt(c->mon, ZMQ_RCVMORE, &more, &ms);
            zmq_msg_close(&msg);
        }
        on_monitor_event(a, c, event, value, now);
    }
}

/* ---- the tick -------------------------------------------------------------------- */

/* role = cache: one batch of the outbox (outbox.c). */
static void
cache_work(agent_t *a, int64_t now, bool on_tick)
{
    int64_t next = INT64_MAX;
    pg_status_t st;

    if (a->outbox == NULL)
        return;
    st = outbox_run(a->outbox, a->pg, &a->ms.invalidations_table, now, on_tick, &next);
    db_check(a, st, now_mono_ms());
    a->cache_next = next;
}

/* role = app: logs a change of the counter file's state once ("" is readable). */
static void
counter_note(agent_t *a, const char *status, uint64_t count)
{
    if (a->counter_status != NULL && strcmp(a->counter_status, status) == 0)
        return;
    if (status[0] == '\0')
        log_info("app: error counter %s reads %llu%s", a->cfg.error_counter_path,
                 (unsigned long long)count,
                 a->counter_status == NULL ? ""
                                           : " again; app_error_rate is known from the next "
                                             "report");
    else
        log_warn("app: error counter: %s (app_error_rate = -1 until it reads again)", status);
    free(a->counter_status);
    a->counter_status = xstrdup(status);
}

/* role = app: app_version, and the error rate from one read of the counter file. */
static void
app_report(agent_t *a, Convoy__Wire__Report *rep)
{
    char why[512];
    uint64_t count = 0;
    int64_t now;

    free(rep->app_version);
    rep->app_version = xstrdup(a->cfg.app_version);
    rep->app_error_rate = RATE_UNKNOWN;
    if (a->cfg.error_counter_path == NULL)
        return;
    now = now_mono_ms(); /* the time of the read itself */
    if (!health_read_counter(a->cfg.error_counter_path, &count, why, sizeof(why))) {
        counter_note(a, why, 0);
        rate_reset(&a->rate); /* a count across a gap could span a restart: start over */
        return;
    }
    counter_note(a, "", count);
    if (rate_push(&a->rate, now, count) == RATE_RESET) {
        if (now - a->counter_down_log >= 1000) {
            log_info("app: the error count went down to %llu (the app restarted?); the rate "
                     "starts over (unknown in this report)",
                     (unsigned long long)count);
            a->counter_down_log = now;
        } else {
            log_debug("app: the error count went down again, to %llu", (unsigned long long)count);
        }
    }
    rep->app_error_rate = rate_value(&a->rate, now, rate_window_ms(a->hb_ms));
    log_debug("app: error count %llu, rate %.3f/s", (unsigned long long)count, rep->app_error_rate);
}

static void
tick(agent_t *a, int64_t now)
{
    Convoy__Wire__Report rep;
    pg_status_t st;

    cache_work(a, now, true);
    now = now_mono_ms();
    metrics_report_init(&rep, a->cfg.role);
    if (a->cfg.conninfo == NULL) {
        rep.db_ok = true; /* role = app without a database: nothing to fail */
    } else if (a->pg == NULL) {
        metrics_report_fail(&rep, a->cfg.role,
                            a->db_status[0] ? a->db_status : "not connected to the database");
    } else {
        st = metrics_sample(a->pg, a->cfg.role, &a->ms, now_mono_ms(), &rep);
        a->pos_known = metrics_report_position(&rep, a->cfg.role, &a->pos);
        if (st == PG_OK)
            db_note(a, "", "");
        else if (st == PG_CONN_LOST || PQstatus(a->pg->conn) != CONNECTION_OK)
            db_lost(a, rep.db_error, now);
        else
            db_note(a, rep.db_error, "report query failed");
    }
    if (!rep.db_ok)
        a->pos_known = false;
    if (a->outbox)
        outbox_report(a->outbox, &rep);
    if (a->cfg.role == AGENT_APP)
        app_report(a, &rep);
    rep.leaving = a->leaving;
    for (size_t i = 0; i < a->n_coords; i++) {
        coord_t *c = &a->coords[i];
        wire_msg_t m;

        if (c->complaints && now - c->complained >= 1000) {
            log_warn("coordinator %s: %lu more protocol complaint%s (see -v for each)", c->endpoint,
                     c->complaints, c->complaints == 1 ? "" : "s");
            c->complaints = 0;
            c->complained = now;
        }

        wire_init(&m, CONVOY__WIRE__MSG_TYPE__REPORT, a->cfg.node, ++a->seq, NULL);
        m.report = &rep;
        send_msg(c, &m);
        if (now - c->last_rx >= SILENT_INTERVALS * a->hb_ms &&
            (c->last_hello < 0 || now - c->last_hello >= a->hb_ms)) {
            if (!c->silent && c->last_hello >= 0)
                log_warn("coordinator %s: nothing heard for %lld ms; sending HELLO every "
                         "heartbeat until it answers",
                         c->endpoint, (long long)(now - c->last_rx));
            if (!c->silent)
                c->awaiting = false; /* a new episode: its first HELLO is logged */
            c->silent = true;
            send_hello(a, c, now, "silence");
        }
    }
    metrics_report_clear(&rep);
    waits_check(a, now, false);
}

/* ---- reload ---------------------------------------------------------------------- */

static void
reload(agent_t *a, int64_t now)
{
    agent_config_t n;
    agent_config_errors_t errs;
    unsigned changed;

    log_info("SIGHUP: reloading %s", a->cfg.path);
    if (!agent_config_load(a->cfg.path, &n, &errs)) {
        for (size_t i = 0; i < errs.n; i++)
            log_error("%s", errs.lines[i]);
        log_error("reload refused (%zu error%s): still running with the previous config", errs.n,
                  errs.n == 1 ? "" : "s");
        agent_config_errors_free(&errs);
        return;
    }
    changed = agent_config_changed(&a->cfg, &n);
    if (changed == 0)
        log_info("reload: nothing changed");
    if (changed & ~AGENT_KEYS_RELOADABLE) {
        char *names = agent_config_key_names(changed & ~AGENT_KEYS_RELOADABLE);
        log_warn("reload: %s changed but need%s a restart to take effect; keeping the running "
                 "value%s",
                 names, strchr(names, ',') ? "" : "s", strchr(names, ',') ? "s" : "");
        free(names);
    }
    if (changed & AGENT_KEY_HEARTBEAT) {
        log_info("reload: heartbeat %lld ms (was %lld ms)", (long long)n.heartbeat_ms,
                 (long long)a->cfg.heartbeat_ms);
        a->cfg.heartbeat_ms = n.heartbeat_ms;
        set_heartbeat(a, n.heartbeat_ms, now);
    }
    if ((changed & AGENT_KEY_CONNINFO) && n.conninfo == NULL && a->cfg.role != AGENT_APP) {
        /* only an app agent may go without; the role change needs a restart */
        log_warn("reload: conninfo removed, but role %s needs it; keeping the running value",
                 agent_role_name(a->cfg.role));
    } else if (changed & AGENT_KEY_CONNINFO) {
        char *old = a->cfg.conninfo;
        a->cfg.conninfo = n.conninfo;
        n.conninfo = old;
        pg_close(&a->pg);
        a->pos_known = false;
        a->db_backoff = DB_BACKOFF_MIN_MS;
        a->db_retry_at = 0;
        if (a->cfg.conninfo == NULL) {
            log_info("reload: conninfo removed; no database from now on (db_ok = true)");
            free(a->db_status);
            a->db_status = xstrdup("");
        } else {
            log_info("reload: conninfo %s; %s the database", old ? "changed" : "given",
                     old ? "reconnecting to" : "connecting to");
            db_connect(a);
        }
    }
    if (a->cfg.role == AGENT_APP && n.role == AGENT_APP && (changed & AGENT_KEYS_APP)) {
        char *t;

        if (changed & AGENT_KEY_APP_VERSION) {
            log_info("reload: app_version %s (was %s)", n.app_version, a->cfg.app_version);
            t = a->cfg.app_version;
            a->cfg.app_version = n.app_version;
            n.app_version = t;
        }
        if (changed & AGENT_KEY_ERROR_COUNTER_FILE) {
            log_info("reload: error_counter_file %s (was %s); the rate starts over",
                     n.error_counter_path ? n.error_counter_path : "none",
                     a->cfg.error_counter_path ? a->cfg.error_counter_path : "none");
            t = a->cfg.error_counter_file;
            a->cfg.error_counter_file = n.error_counter_file;
            n.error_counter_file = t;
            t = a->cfg.error_counter_path;
            a->cfg.error_counter_path = n.error_counter_path;
            n.error_counter_path = t;
            rate_reset(&a->rate);
            free(a->counter_status);
            a->counter_status = NULL; /* the new file's first read is logged */
        }
    }
    if (a->outbox && n.role == AGENT_CACHE && (changed & AGENT_KEYS_CACHE)) {
        bool target = (changed & (AGENT_KEY_REDIS | AGENT_KEY_REDIS_PASSWORD_FILE)) != 0;
        agent_config_t old = a->cfg;

        /* the cache keys move into the running config; the old values go with n */
        a->cfg.redis = n.redis;
        a->cfg.redis_host = n.redis_host;
        a->cfg.redis_port = n.redis_port;
        a->cfg.redis_db = n.redis_db;
        a->cfg.redis_password_file = n.redis_password_file;
        a->cfg.redis_password = n.redis_password;
        a->cfg.second_pass_ms = n.second_pass_ms;
        a->cfg.purge_rate = n.purge_rate;
        n.redis = old.redis;
        n.redis_host = old.redis_host;
        n.redis_password_file = old.redis_password_file;
        n.redis_password = old.redis_password;
        if (target)
            log_info("reload: %s changed; reconnecting to Redis (%s)",
                     (changed & AGENT_KEY_REDIS) && (changed & AGENT_KEY_REDIS_PASSWORD_FILE)
                         ? "redis and redis_password_file"
                     : (changed & AGENT_KEY_REDIS) ? "redis"
                                                   : "redis_password_file",
                     a->cfg.redis);
        outbox_reconfigure(a->outbox, &a->cfg, target);
        a->cache_next = now;
    }
    agent_config_free(&n);
}

/* ---- run ------------------------------------------------------------------------- */

static bool
open_coordinators(agent_t *a)
{
    const curve_keys_t *keys = a->cfg.insecure ? NULL : &a->cfg.keys;
    const char *server = a->cfg.insecure ? NULL : a->cfg.server_public;
    int64_t now = now_mono_ms();

    a->n_coords = a->cfg.n_coordinators;
    a->coords = xcalloc(a->n_coords, sizeof(*a->coords));
    for (size_t i = 0; i < a->n_coords; i++) {
        coord_t *c = &a->coords[i];
        char mon_ep[64], *err = NULL;
        int linger = 0;

        c->endpoint = xstrdup(a->cfg.coordinators[i]);
        c->last_rx = now;
        c->last_hello = -1;
        /* transport_connect_dealer connects at once; the monitor attached right after sees
         * the handshake (a round trip later), and on_frame notices a connect it missed */
        c->sock = transport_connect_dealer(a->zctx, c->endpoint, a->cfg.node, keys, server, &err);
        if (c->sock == NULL) {
            log_error("coordinator %s: %s", c->endpoint, err);
            free(err);
            return false;
        }
        snprintf(mon_ep, sizeof(mon_ep), "inproc://convoy-agent-monitor-%zu", i);
        if (zmq_socket_monitor(
                c->sock, mon_ep,
                ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                    ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                    ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) == 0 &&
            (c->mon = zmq_socket(a->zctx, ZMQ_PAIR)) != NULL) {
            zmq_setsockopt(c->mon, ZMQ_LINGER, &linger, sizeof(linger));
            if (zmq_connect(c->mon, mon_ep) != 0) {
                zmq_close(c->mon);
                c->mon = NULL;
            }
        }
        if (c->mon == NULL)
            log_warn("coordinator %s: no socket monitor (%s); connections are not logged",
                     c->endpoint, zmq_strerror(zmq_errno()));
        log_info("coordinator %s: connecting (%s)", c->endpoint,
                 a->cfg.insecure ? "INSECURE (no CURVE)" : "CURVE");
    }
    return true;
}

static void
agent_free(agent_t *a)
{
    for (size_t i = 0; i < a->n_coords; i++) {
        coord_t *c = &a->coords[i];
        if (c->sock) {
            if (c->mon)
                zmq_socket_monitor(c->sock, NULL, 0);
            zmq_close(c->sock);
        }
        if (c->mon)
            zmq_close(c->mon);
        free(c->endpoint);
        free(c->coordinator);
    }
    free(a->coords);
    for (size_t i = 0; i < a->n_waits; i++)
        free(a->waits[i].migration);
    free(a->waits);
    outbox_free(a->outbox);
    pg_close(&a->pg);
    free(a->db_status);
    free(a->counter_status);
    if (a->zctx)
        zmq_ctx_term(a->zctx);
    agent_config_free(&a->cfg);
}

static void
redial(coord_t *c, int64_t now)
{
    if (c->redial_at == 0 || now < c->redial_at)
        return;
    c->redial_at = 0;
    zmq_disconnect(c->sock, c->endpoint); /* ENOENT when libzmq already dropped it: fine */
    if (zmq_connect(c->sock, c->endpoint) != 0)
        log_error("coordinator %s: cannot connect: %s", c->endpoint, zmq_strerror(zmq_errno()));
    else
        log_debug("coordinator %s: dialing again after the refused handshake", c->endpoint);
}

static int64_t
next_wakeup(const agent_t *a)
{
    int64_t t = a->next_tick, d = waits_next_deadline(a);

    if (d < t)
        t = d;
    for (size_t i = 0; i < a->n_coords; i++)
        if (a->coords[i].redial_at != 0 && a->coords[i].redial_at < t)
            t = a->coords[i].redial_at;
    if (a->pg == NULL && a->cfg.conninfo != NULL && a->db_retry_at < t)
        t = a->db_retry_at;
    if (a->outbox && a->cache_next < t)
        t = a->cache_next;
    return t;
}

static void
handle_signals(agent_t *a, int64_t now)
{
    unsigned char buf[64];
    ssize_t n;
    bool hup = false;

    while ((n = read(sig_pipe[0], buf, sizeof(buf))) > 0)
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == SIGHUP) {
                hup = true;
            } else if (!a->stop) {
                log_info("%s: stopping", buf[i] == SIGINT ? "SIGINT" : "SIGTERM");
                a->stop = true;
            }
        }
    if (hup && !a->stop)
        reload(a, now);
}

int
agent_run(agent_config_t *cfg)
{
    agent_t a;
    zmq_pollitem_t *items;
    size_t n_items;
    int pg_item;
    int rc = 0;

    memset(&a, 0, sizeof(a));
    a.cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg));
    a.db_status = xstrdup("");
    a.db_backoff = DB_BACKOFF_MIN_MS;
    a.hb_ms = a.cfg.heartbeat_ms;
    a.waits = xcalloc(MAX_WAITS, sizeof(*a.waits));
    log_set_context("node=%s%s", a.cfg.node, a.cfg.insecure ? " INSECURE (no CURVE)" : "");

    if (!a.cfg.insecure && !zmq_has("curve")) {
        log_error("this libzmq has no CURVE support; install one that has, or set insecure = "
                  "true (not for production)");
        agent_free(&a);
        return 1;
    }
    if (!signals_install()) {
        log_error("cannot create the signal pipe: %s", strerror(errno));
        agent_free(&a);
        return 1;
    }
    log_info("%s starting: role %s, %zu coordinator%s, heartbeat %lld ms, %s%s", SOFTWARE,
             agent_role_name(a.cfg.role), a.cfg.n_coordinators,
             a.cfg.n_coordinators == 1 ? "" : "s", (long long)a.hb_ms,
             a.cfg.insecure ? "INSECURE (no CURVE)" : "CURVE, public key ",
             a.cfg.insecure ? "" : a.cfg.keys.public_z85);
    if (a.cfg.role == AGENT_CACHE) {
        log_info("cache: redis %s%s, second_pass %lld ms, purge_rate %lld SCAN/s; the outbox "
                 "convoy.invalidations on the conninfo's database",
                 a.cfg.redis, a.cfg.redis_password ? " (with a password)" : "",
                 (long long)a.cfg.second_pass_ms, (long long)a.cfg.purge_rate);
        a.outbox = outbox_new(&a.cfg);
    }
    if (a.cfg.role == AGENT_APP) {
        if (a.cfg.error_counter_path)
            log_info("app: version %s, error counter %s; %s", a.cfg.app_version,
                     a.cfg.error_counter_path,
                     a.cfg.conninfo ? "the conninfo's database for db_ok"
                                    : "no database (db_ok = true)");
        else
            log_info("app: version %s, no error_counter_file (app_error_rate = -1); %s",
                     a.cfg.app_version,
                     a.cfg.conninfo ? "the conninfo's database for db_ok"
                                    : "no database (db_ok = true)");
    }
    a.cache_next = INT64_MAX;
    a.zctx = zmq_ctx_new();
    if (a.zctx == NULL || !open_coordinators(&a)) {
        if (a.zctx == NULL)
            log_error("cannot create a ZeroMQ context: %s", zmq_strerror(zmq_errno()));
        agent_free(&a);
        signals_restore();
        return 1;
    }
    if (a.cfg.conninfo != NULL)
        db_connect(&a);
    {
        int64_t now = now_mono_ms();
        for (size_t i = 0; i < a.n_coords; i++)
            send_hello(&a, &a.coords[i], now, "start");
        a.next_tick = now; /* the first REPORT right away */
    }

    n_items = 2 * a.n_coords + 2;
    items = xcalloc(n_items, sizeof(*items));
    while (!a.stop) {
        int64_t now = now_mono_ms(), wake = next_wakeup(&a);
        long timeout = wake <= now ? 0 : (long)(wake - now);
        size_t k = 0;

        for (size_t i = 0; i < a.n_coords; i++) {
            items[k++] = (zmq_pollitem_t){a.coords[i].sock, 0, ZMQ_POLLIN, 0};
            items[k++] = (zmq_pollitem_t){a.coords[i].mon, -1, a.coords[i].mon ? ZMQ_POLLIN : 0, 0};
        }
        items[k++] = (zmq_pollitem_t){NULL, sig_pipe[0], ZMQ_POLLIN, 0};
        pg_item = -1; /* role = cache: the database socket, for the outbox's notifications */
        if (a.outbox && a.pg) {
            pg_item = (int)k;
            items[k++] = (zmq_pollitem_t){NULL, PQsocket(a.pg->conn), ZMQ_POLLIN, 0};
        }
        if (zmq_poll(items, (int)k, timeout) < 0 && zmq_errno() != EINTR) {
            log_error("zmq_poll: %s", zmq_strerror(zmq_errno()));
            rc = 1;
            break;
        }
        now = now_mono_ms();
        handle_signals(&a, now);
        if (a.stop)
            break;
        for (size_t i = 0; i < a.n_coords; i++) {
            coord_t *c = &a.coords[i];
            if (c->mon && (items[2 * i + 1].revents & ZMQ_POLLIN))
                drain_monitor(&a, c, now);
            if (items[2 * i].revents & ZMQ_POLLIN) {
                transport_frame_t f;
                for (int n = 0; n < MAX_FRAMES_PER_IO && transport_recv(c->sock, false, &f); n++) {
                    on_frame(&a, i, &f, now_mono_ms());
                    transport_frame_clear(&f);
                }
            }
        }
        now = now_mono_ms();
        for (size_t i = 0; i < a.n_coords; i++)
            redial(&a.coords[i], now);
        if (a.pg == NULL && a.cfg.conninfo != NULL && now >= a.db_retry_at)
            db_connect(&a);
        now = now_mono_ms();
        if (now >= a.next_tick) {
            tick(&a, now);
            a.next_tick += a.hb_ms;
            if (a.next_tick <= now) /* fell behind (a slow query): no burst to catch up */
                a.next_tick = now + a.hb_ms;
        }
        now = now_mono_ms();
        if (a.outbox && db_notified(&a, pg_item >= 0 && (items[pg_item].revents & ZMQ_POLLIN), now))
            a.cache_next = now;
        if (a.outbox && now >= a.cache_next)
            cache_work(&a, now, false);
        waits_expire(&a, now_mono_ms());
    }
    free(items);
    if (a.stop) {
        /* say goodbye: the coordinators stop counting this node (an app node that left no
         * longer holds the contract gate); wait up to 500 ms for the frames to go out */
        int linger = 500;
        a.leaving = true;
        tick(&a, now_mono_ms());
        for (size_t i = 0; i < a.n_coords; i++)
            if (a.coords[i].sock)
                zmq_setsockopt(a.coords[i].sock, ZMQ_LINGER, &linger, sizeof(linger));
    }
    outbox_free(a.outbox); /* its last progress line before "stopped" */
    a.outbox = NULL;
    log_info("stopped");
    agent_free(&a);
    signals_restore();
    return rc;
}
