/*
 * agentsim.c: convoy-agentsim, many simulated agents against one coordinator, for
 * bench/fleet_bench.sh --case agents. Two modes:
 *
 *   convoy-agentsim --keygen N --out FILE [--prefix sim] [--width 3]
 *       N CURVE key pairs (zmq_curve_keypair), one line per agent in FILE (mode 0600):
 *       `NAME PUBLIC SECRET`, names PREFIX000, PREFIX001, ... The script turns the public
 *       keys into [node NAME] sections of a cluster config.
 *
 *   convoy-agentsim --keys FILE --endpoint EP --server-key KEY [--seconds S] [--interval MS]
 *       one DEALER per agent of FILE (CURVE, its own key pair, routing id = its name, the
 *       same socket options as convoy-agent), all in this one thread with one zmq_poll:
 *       a HELLO as soon as the connection is up (and again after 3 intervals with nothing
 *       heard, as convoy-agent does), then a replica REPORT every interval (default 100 ms:
 *       db_ok, in_recovery, advancing receive/replay LSNs, an advancing heartbeat_seq),
 *       phase-shifted so that the agents' reports are spread over the interval as those of
 *       independent agents would be. It counts what comes back (WELCOME, HEARTBEAT, ERROR,
 *       other) and prints one summary line at the end:
 *
 *         agentsim: agents=200 connected=200 welcomed=200 reports=... ...
 *
 * Exit status: 0 when every agent was welcomed and no ERROR came back, 1 otherwise, 2 on a
 * usage or setup error.
 */
#include "convoy/transport.h"
#include "convoy/util.h"
#include "convoy/wire.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define MAX_AGENTS       5000
#define SILENT_INTERVALS 3 /* HELLO again after this many intervals with nothing heard */
#define POLL_SLICE_MS    10

typedef struct {
    char name[64];
    curve_keys_t keys;
    void *sock;
    uint64_t seq;
    int64_t next_report; /* monotonic ms */
    int64_t last_hello;  /* -1: never sent */
    int64_t last_rx;     /* -1: nothing heard */
    uint64_t lsn;
    int64_t hb_seq;
    /* counters */
    uint64_t hellos, rehellos, reports, report_fail, unconnected, late;
    uint64_t welcomes, heartbeats, errors, other, undecodable;
} sim_agent_t;

static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void
usage(FILE *f)
{
    fprintf(f, "usage: convoy-agentsim --keygen N --out FILE [--prefix NAME] [--width W]\n"
               "       convoy-agentsim --keys FILE --endpoint ENDPOINT --server-key KEY\n"
               "                       [--seconds S] [--interval MS] [--agents N]\n"
               "\n"
               "--keygen N       write N CURVE key pairs to FILE (mode 0600), one line per agent:\n"
               "                 `NAME PUBLIC SECRET`, NAME = PREFIX and a W-digit number\n"
               "                 (default prefix sim, width 3: sim000, sim001, ...)\n"
               "--keys FILE      run one simulated agent per line of FILE\n"
               "--agents N       only the first N lines of FILE (default all)\n"
               "--endpoint EP    the coordinator's ROUTER, e.g. tcp://127.0.0.1:7400\n"
               "--server-key KEY the coordinator's public key: 40 characters or a .pub/.key file\n"
               "--seconds S      run this long, then print the summary (default 30)\n"
               "--interval MS    REPORT interval per agent (default 100)\n"
               "\n"
               "Each agent: a DEALER with its own key pair, a HELLO once connected (again after\n"
               "3 intervals with nothing heard), a replica REPORT every interval. The summary\n"
               "line counts what was sent and what came back. Exit 0 when every agent got a\n"
               "WELCOME and no ERROR came back, 1 otherwise, 2 on a usage or setup error.\n");
}

/* ---- --keygen -------------------------------------------------------------------- */

static int
keygen(int64_t n, const char *out, const char *prefix, int64_t width)
{
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FILE *f;

    if (fd < 0 || fchmod(fd, 0600) != 0) {
        fprintf(stderr, "convoy-agentsim: %s: %s\n", out, strerror(errno));
        if (fd >= 0)
            close(fd);
        return 2;
    }
    f = fdopen(fd, "w");
    if (f == NULL) {
        fprintf(stderr, "convoy-agentsim: %s: %s\n", out, strerror(errno));
        close(fd);
        return 2;
    }
    for (int64_t i = 0; i < n; i++) {
        char pub[CURVE_KEY_Z85], sec[CURVE_KEY_Z85];
        if (zmq_curve_keypair(pub, sec) != 0) {
            fprintf(stderr, "convoy-agentsim: zmq_curve_keypair: %s (libzmq without CURVE?)\n",
                    zmq_strerror(zmq_errno()));
            fclose(f);
            return 2;
        }
        fprintf(f, "%s%0*lld %s %s\n", prefix, (int)width, (long long)i, pub, sec);
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "convoy-agentsim: %s: %s\n", out, strerror(errno));
        return 2;
    }
    return 0;
}

/* ---- the simulation ---------------------------------------------------------------- */

static bool
load_keys(const char *path, int64_t limit, sim_agent_t **out, size_t *n_out)
{
    FILE *f = fopen(path, "r");
    sim_agent_t *a = NULL;
    size_t n = 0;
    char line[512];
    int lineno = 0;

    if (f == NULL) {
        fprintf(stderr, "convoy-agentsim: %s: %s\n", path, strerror(errno));
        return false;
    }
    while (fgets(line, sizeof(line), f) != NULL && (limit < 0 || (int64_t)n < limit)) {
        char name[64], pub[64], sec[64];
        lineno++;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (sscanf(line, "%63s %63s %63s", name, pub, sec) != 3 || strlen(pub) != 40 ||
            strlen(sec) != 40) {
            fprintf(stderr, "convoy-agentsim: %s:%d: expected `NAME PUBLIC SECRET`\n", path,
                    lineno);
            fclose(f);
            free(a);
            return false;
        }
        if (n == MAX_AGENTS) {
            fprintf(stderr, "convoy-agentsim: at most %d agents\n", MAX_AGENTS);
            fclose(f);
            free(a);
            return false;
        }
        a = xrealloc(a, (n + 1) * sizeof(*a));
        memset(&a[n], 0, sizeof(a[n]));
        snprintf(a[n].name, sizeof(a[n].name), "%s", name);
        memcpy(a[n].keys.public_z85, pub, CURVE_KEY_Z85);
        memcpy(a[n].keys.secret_z85, sec, CURVE_KEY_Z85);
        n++;
    }
    fclose(f);
    if (n == 0) {
        fprintf(stderr, "convoy-agentsim: %s: no agents in it\n", path);
        free(a);
        return false;
    }
    *out = a;
    *n_out = n;
    return true;
}

static void
send_hello(sim_agent_t *a, int64_t now)
{
    static char *roles[1] = {"replica"};
    static char *caps[2] = {"wait_lsn", "readers"};
    Convoy__Wire__Hello h = CONVOY__WIRE__HELLO__INIT;
    wire_msg_t m;

    h.n_roles = 1;
    h.roles = roles;
    h.software = "convoy-agentsim " CONVOY_VERSION;
    h.n_capabilities = 2;
    h.capabilities = caps;
    wire_init(&m, CONVOY__WIRE__MSG_TYPE__HELLO, a->name, a->seq + 1, NULL);
    m.hello = &h;
    /* with ZMQ_IMMEDIATE a send succeeds only on a live connection: try again next slice */
    if (!transport_send(a->sock, NULL, 0, &m))
        return;
    a->seq++;
    if (a->last_hello >= 0)
        a->rehellos++;
    a->hellos++;
    a->last_hello = now;
}

static void
send_report(sim_agent_t *a)
{
    Convoy__Wire__Report r = CONVOY__WIRE__REPORT__INIT;
    Convoy__Wire__ConflictCounters c = CONVOY__WIRE__CONFLICT_COUNTERS__INIT;
    wire_msg_t m;

    /* a replica that keeps up: ~64 KiB of WAL per interval, received a little ahead of
     * replayed, and the newest coordinator heartbeat row replayed */
    a->lsn += 65536;
    a->hb_seq++;
    r.role = "replica";
    r.db_ok = true;
    r.db_error = "";
    r.in_recovery = true;
    r.replay_paused = false;
    r.receive_lsn = a->lsn + 8192;
    r.replay_lsn = a->lsn;
    r.heartbeat_seq = a->hb_seq;
    r.conflicts = &c;
    wire_init(&m, CONVOY__WIRE__MSG_TYPE__REPORT, a->name, a->seq + 1, NULL);
    m.report = &r;
    if (transport_send(a->sock, NULL, 0, &m)) {
        a->seq++;
        a->reports++;
    } else if (a->hellos == 0) {
        a->unconnected++; /* due before the CURVE handshake finished: nothing to send on */
    } else {
        a->report_fail++;
    }
}

static void
on_frame(sim_agent_t *a, const transport_frame_t *f, int64_t now)
{
    wire_msg_t *m = NULL;
    wire_status_t st = wire_decode(f->data, f->len, &m, NULL, 0);

    if (st != WIRE_OK || m == NULL) {
        a->undecodable++;
        wire_free(m);
        return;
    }
    a->last_rx = now;
    switch (m->type) {
    case CONVOY__WIRE__MSG_TYPE__WELCOME:
        a->welcomes++;
        break;
    case CONVOY__WIRE__MSG_TYPE__HEARTBEAT:
        a->heartbeats++;
        break;
    case CONVOY__WIRE__MSG_TYPE__ERROR:
        if (a->errors++ == 0)
            fprintf(stderr, "agentsim: %s got ERROR code %u: %s\n", a->name,
                    m->error ? m->error->code : 0,
                    m->error && m->error->message ? m->error->message : "");
        break;
    default:
        a->other++;
        break;
    }
    wire_free(m);
}

static int
cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static int
run(const char *keys_path,
    int64_t limit,
    const char *endpoint,
    const char *server_key,
    int64_t seconds,
    int64_t interval)
{
    sim_agent_t *ag = NULL;
    size_t n = 0;
    char server_pub[CURVE_KEY_Z85];
    char *err = NULL;
    void *ctx;
    zmq_pollitem_t *items;
    uint64_t *hb;
    int64_t t0, deadline, first_all_welcomed = -1;
    uint64_t tot[11] = {0};
    size_t connected = 0, welcomed = 0;
    struct sigaction sa;
    int rc;

    if (!load_keys(keys_path, limit, &ag, &n))
        return 2;
    if (!keys_read_public(server_key, server_pub, &err)) {
        fprintf(stderr, "convoy-agentsim: --server-key: %s\n", err);
        free(err);
        free(ag);
        return 2;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    ctx = zmq_ctx_new();
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, (int)n + 64);
    items = xcalloc(n, sizeof(*items));
    t0 = now_mono_ms();
    for (size_t i = 0; i < n; i++) {
        ag[i].sock =
            transport_connect_dealer(ctx, endpoint, ag[i].name, &ag[i].keys, server_pub, &err);
        if (ag[i].sock == NULL) {
            fprintf(stderr, "convoy-agentsim: %s: %s\n", ag[i].name, err);
            free(err);
            for (size_t k = 0; k < i; k++)
                zmq_close(ag[k].sock);
            zmq_ctx_term(ctx);
            free(items);
            free(ag);
            return 2;
        }
        ag[i].last_hello = -1;
        ag[i].last_rx = -1;
        ag[i].lsn = 0x3000000ULL + (uint64_t)i * 0x100000ULL;
        ag[i].hb_seq = 0;
        /* spread the agents' reports over the interval */
        ag[i].next_report = t0 + (int64_t)((double)interval * (double)i / (double)n);
        items[i].socket = ag[i].sock;
        items[i].events = ZMQ_POLLIN;
    }
    fprintf(stderr,
            "agentsim: %zu agents connecting to %s (CURVE), a REPORT every %lld ms each, "
            "for %lld s\n",
            n, endpoint, (long long)interval, (long long)seconds);
    deadline = t0 + seconds * 1000;

    while (!stop_requested) {
        int64_t now = now_mono_ms(), next = now + POLL_SLICE_MS;
        size_t w = 0;

        if (now >= deadline)
            break;
        for (size_t i = 0; i < n; i++)
            if (ag[i].next_report < next)
                next = ag[i].next_report;
        if (next < now)
            next = now;
        if (zmq_poll(items, (int)n, (long)(next - now)) < 0 && zmq_errno() != EINTR) {
            fprintf(stderr, "convoy-agentsim: zmq_poll: %s\n", zmq_strerror(zmq_errno()));
            break;
        }
        now = now_mono_ms();
        for (size_t i = 0; i < n; i++) {
            sim_agent_t *a = &ag[i];
            transport_frame_t f;

            if (items[i].revents & ZMQ_POLLIN)
                for (int k = 0; k < 256 && transport_recv(a->sock, false, &f); k++) {
                    on_frame(a, &f, now);
                    transport_frame_clear(&f);
                }
            /* HELLO: once connected, and again after 3 intervals with nothing heard */
            if (a->last_hello < 0 ||
                (now - (a->last_rx > a->last_hello ? a->last_rx : a->last_hello) >=
                     SILENT_INTERVALS * interval &&
                 now - a->last_hello >= SILENT_INTERVALS * interval))
                send_hello(a, now);
            if (now >= a->next_report) {
                if (now - a->next_report > interval / 2)
                    a->late++;
                send_report(a);
                a->next_report += interval;
                if (a->next_report <= now) /* fell behind: do not burst */
                    a->next_report = now + interval;
            }
            if (a->welcomes > 0)
                w++;
        }
        if (w == n && first_all_welcomed < 0) {
            first_all_welcomed = now - t0;
            fprintf(stderr, "agentsim: all %zu agents welcomed after %lld ms\n", n,
                    (long long)first_all_welcomed);
        }
    }

    hb = xcalloc(n, sizeof(*hb));
    for (size_t i = 0; i < n; i++) {
        const sim_agent_t *a = &ag[i];
        tot[0] += a->hellos;
        tot[1] += a->rehellos;
        tot[2] += a->reports;
        tot[3] += a->report_fail;
        tot[4] += a->late;
        tot[5] += a->welcomes;
        tot[6] += a->heartbeats;
        tot[7] += a->errors;
        tot[8] += a->other;
        tot[9] += a->undecodable;
        tot[10] += a->unconnected;
        connected += a->hellos > 0;
        welcomed += a->welcomes > 0;
        hb[i] = a->heartbeats;
        zmq_close(a->sock);
    }
    qsort(hb, n, sizeof(*hb), cmp_u64);
    printf("agentsim: agents=%zu connected=%zu welcomed=%zu all_welcomed_ms=%lld seconds=%.1f "
           "interval_ms=%lld",
           n, connected, welcomed, (long long)first_all_welcomed,
           (double)(now_mono_ms() - t0) / 1000.0, (long long)interval);
    {
        static const char *const names[] = {
            "hellos",
            "rehellos",
            "reports",
            "report_send_failures",
            "late_reports",
            "welcomes",
            "heartbeats",
            "errors",
            "other",
            "undecodable",
            "reports_before_connect",
        };
        for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
            printf(" %s=%llu", names[k], (unsigned long long)tot[k]);
    }
    printf(" heartbeats_per_agent_min=%llu heartbeats_per_agent_median=%llu "
           "heartbeats_per_agent_max=%llu\n",
           (unsigned long long)hb[0], (unsigned long long)hb[n / 2], (unsigned long long)hb[n - 1]);
    fflush(stdout);
    rc = welcomed == n && tot[7] == 0 ? 0 : 1;
    free(hb);
    free(items);
    free(ag);
    zmq_ctx_term(ctx);
    return rc;
}

static bool
parse_opt(const char *opt, const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (parse_int64(s, min, max, out))
        return true;
    fprintf(stderr, "convoy-agentsim: %s wants a whole number in %lld..%lld, not `%s`\n", opt,
            (long long)min, (long long)max, s);
    return false;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"keygen", required_argument, NULL, 'g'},   {"out", required_argument, NULL, 'o'},
        {"prefix", required_argument, NULL, 'p'},   {"width", required_argument, NULL, 'W'},
        {"keys", required_argument, NULL, 'k'},     {"agents", required_argument, NULL, 'n'},
        {"endpoint", required_argument, NULL, 'e'}, {"server-key", required_argument, NULL, 's'},
        {"seconds", required_argument, NULL, 'S'},  {"interval", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    int64_t gen = -1, width = 3, limit = -1, seconds = 30, interval = 100;
    const char *out = NULL, *prefix = "sim", *keys = NULL, *endpoint = NULL, *server = NULL;
    int c;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'g':
            if (!parse_opt("--keygen", optarg, 1, MAX_AGENTS, &gen))
                return 2;
            break;
        case 'o':
            out = optarg;
            break;
        case 'p':
            prefix = optarg;
            break;
        case 'W':
            if (!parse_opt("--width", optarg, 1, 8, &width))
                return 2;
            break;
        case 'k':
            keys = optarg;
            break;
        case 'n':
            if (!parse_opt("--agents", optarg, 1, MAX_AGENTS, &limit))
                return 2;
            break;
        case 'e':
            endpoint = optarg;
            break;
        case 's':
            server = optarg;
            break;
        case 'S':
            if (!parse_opt("--seconds", optarg, 1, 86400, &seconds))
                return 2;
            break;
        case 'i':
            if (!parse_opt("--interval", optarg, 1, 60000, &interval))
                return 2;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "convoy-agentsim: unexpected argument `%s`\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (gen > 0) {
        if (out == NULL || keys || endpoint || server) {
            fprintf(stderr, "convoy-agentsim: --keygen N goes with --out FILE only\n");
            return 2;
        }
        if (strlen(prefix) + (size_t)width >= 60) {
            fprintf(stderr, "convoy-agentsim: --prefix is too long\n");
            return 2;
        }
        return keygen(gen, out, prefix, width);
    }
    if (keys == NULL || endpoint == NULL || server == NULL) {
        fprintf(stderr, "convoy-agentsim: give --keygen N --out FILE, or --keys FILE --endpoint "
                        "EP --server-key KEY\n");
        usage(stderr);
        return 2;
    }
    return run(keys, limit, endpoint, server, seconds, interval);
}
