/*
 * badpeer.c: convoy-badpeer, a misbehaving agent for the coordinator's tests. It connects a
 * DEALER to a coordinator (CURVE with --key-file and --server-key, or --insecure), sends
 * one frame per --send KIND in order, then listens for --wait ms and prints one line per
 * frame it gets back:
 *
 *   recv TYPE code=N message=TEXT
 *
 * TYPE is the message type (ERROR, WELCOME, ...; INVALID when the reply does not decode,
 * with code the WireError its status maps to and message the codec's reason); code and
 * message are the ERROR body's, or 0 and the RESULT message (empty for other types).
 * Details of each frame sent and received go to stderr. Exit status: 0 when every frame
 * was queued on a connected socket, 1 when one could not be (e.g. the CURVE handshake is
 * refused, so the socket never connects), 2 on a usage or setup error.
 */
#include "convoy/transport.h"
#include "convoy/util.h"
#include "convoy/wire.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define MAX_SENDS 64

static const char *const kind_names[] = {
    "garbage",      "truncated", "oversized", "wrong-version",
    "unknown-type", "empty",     "multipart", "valid-hello",
};
enum {
    K_GARBAGE,
    K_TRUNCATED,
    K_OVERSIZED,
    K_WRONG_VERSION,
    K_UNKNOWN_TYPE,
    K_EMPTY,
    K_MULTIPART,
    K_VALID_HELLO,
    N_KINDS
};

static void
usage(FILE *f)
{
    fprintf(f, "usage: convoy-badpeer --endpoint ENDPOINT (--insecure | --key-file FILE "
               "--server-key KEY)\n"
               "                      [--node NAME] [--identity ID] [--role ROLE] "
               "[--send KIND]...\n"
               "                      [--wait MS] [--pause MS] [--connect-timeout MS] "
               "[--seed N]\n"
               "\n"
               "KIND (repeatable, sent in order):\n"
               "  garbage        256 random bytes\n"
               "  truncated      a valid REPORT frame cut in half\n"
               "  oversized      a HELLO of WIRE_MAX_FRAME*2 bytes (libzmq drops the connection)\n"
               "  wrong-version  a HELLO with major version 99\n"
               "  unknown-type   an envelope of type 42\n"
               "  empty          a zero-byte frame\n"
               "  multipart      one message of 3 frames: a valid HELLO and two junk frames\n"
               "  valid-hello    a proper HELLO from --node\n"
               "\n"
               "--node NAME        the envelopes' sender (default badpeer)\n"
               "--identity ID      the DEALER routing id (default: none, libzmq picks one)\n"
               "--role ROLE        the HELLO's role (default replica)\n"
               "--wait MS          listen this long after the last send (default 1000)\n"
               "--pause MS         wait this long between sends, printing replies (default 0)\n"
               "--connect-timeout MS  wait this long for a connection before each send "
               "(default 3000)\n"
               "--seed N           for the garbage (default: the clock)\n"
               "\n"
               "Prints `recv TYPE code=N message=TEXT` per frame received; exit 0 when every\n"
               "frame was sent, 1 when one could not be, 2 on a usage error.\n");
}

static uint64_t rng_state;

static uint64_t
rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Waits until the DEALER has a connected peer (ZMQ_IMMEDIATE: POLLOUT only then). */
static bool
wait_writable(void *sock, int64_t timeout_ms)
{
    int64_t deadline = now_mono_ms() + timeout_ms;

    for (;;) {
        zmq_pollitem_t it = {.socket = sock, .events = ZMQ_POLLOUT};
        int64_t left = deadline - now_mono_ms();
        if (left < 0)
            left = 0;
        if (zmq_poll(&it, 1, (long)left) > 0 && (it.revents & ZMQ_POLLOUT))
            return true;
        if (now_mono_ms() >= deadline)
            return false;
    }
}

typedef struct {
    const char *node;
    const char *role;
    uint64_t seq;
} peer_t;

static uint8_t *
encode_hello(peer_t *p, uint32_t major, uint32_t type, const char *software, size_t *len)
{
    static char *caps[] = {"wait_lsn", "readers"};
    char *roles[1];
    wire_msg_t m;
    Convoy__Wire__Hello hello;
    uint8_t *buf;

    roles[0] = (char *)p->role;
    convoy__wire__hello__init(&hello);
    hello.n_roles = 1;
    hello.roles = roles;
    hello.software = (char *)software;
    hello.n_capabilities = 2;
    hello.capabilities = caps;
    wire_init(&m, type, p->node, ++p->seq, "");
    m.major = major;
    if (type == CONVOY__WIRE__MSG_TYPE__HELLO)
        m.hello = &hello;
    /* pack directly: wire_encode would refuse the oversized one */
    *len = convoy__wire__envelope__get_packed_size(&m);
    buf = xmalloc(*len ? *len : 1);
    convoy__wire__envelope__pack(&m, buf);
    return buf;
}

static uint8_t *
encode_report(peer_t *p, size_t *len)
{
    wire_msg_t m;
    Convoy__Wire__Report r;
    Convoy__Wire__ConflictCounters c;
    uint8_t *buf;

    convoy__wire__report__init(&r);
    convoy__wire__conflict_counters__init(&c);
    r.role = (char *)p->role;
    r.db_ok = true;
    r.db_error = "";
    r.in_recovery = true;
    r.receive_lsn = 0x16B374D848ULL;
    r.replay_lsn = 0x16B374D000ULL;
    r.heartbeat_seq = 12345;
    c.lock = 1;
    c.snapshot = 2;
    r.conflicts = &c;
    wire_init(&m, CONVOY__WIRE__MSG_TYPE__REPORT, p->node, ++p->seq, "");
    m.report = &r;
    buf = wire_encode(&m, len);
    if (buf == NULL)
        abort();
    return buf;
}

/* A HELLO whose software string makes the frame exactly `size` bytes. */
static uint8_t *
encode_oversized(peer_t *p, size_t size, size_t *len)
{
    char *software = xmalloc(size + 1);
    uint8_t *buf = NULL;
    size_t n = size > 64 ? size - 64 : 0;

    for (;; n++) {
        uint64_t seq = p->seq;
        memset(software, 'X', n);
        software[n] = '\0';
        free(buf);
        buf = encode_hello(p, WIRE_MAJOR, CONVOY__WIRE__MSG_TYPE__HELLO, software, len);
        if (*len >= size)
            break;
        p->seq = seq;
    }
    free(software);
    return buf;
}

static bool
send_kind(void *sock, int kind, peer_t *p)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    bool ok;

    switch (kind) {
    case K_GARBAGE:
        len = 256;
        buf = xmalloc(len);
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)rnd();
        break;
    case K_TRUNCATED:
        buf = encode_report(p, &len);
        len /= 2;
        break;
    case K_OVERSIZED:
        buf = encode_oversized(p, (size_t)WIRE_MAX_FRAME * 2, &len);
        break;
    case K_WRONG_VERSION:
        buf = encode_hello(p, 99, CONVOY__WIRE__MSG_TYPE__HELLO, "convoy-badpeer 0.1.0", &len);
        break;
    case K_UNKNOWN_TYPE:
        buf = encode_hello(p, WIRE_MAJOR, 42, "", &len);
        break;
    case K_EMPTY:
        buf = xmalloc(1);
        len = 0;
        break;
    case K_MULTIPART:
        buf = encode_hello(p, WIRE_MAJOR, CONVOY__WIRE__MSG_TYPE__HELLO, "convoy-badpeer 0.1.0",
                           &len);
        ok = zmq_send(sock, buf, len, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0 &&
             zmq_send(sock, "junk frame 2", 12, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0 &&
             zmq_send(sock, "junk frame 3", 12, ZMQ_DONTWAIT) >= 0;
        fprintf(stderr, "badpeer: %s multipart (3 frames, the first a %zu-byte HELLO seq %llu)\n",
                ok ? "sent" : "could not send", len, (unsigned long long)p->seq);
        free(buf);
        return ok;
    case K_VALID_HELLO:
    default:
        buf = encode_hello(p, WIRE_MAJOR, CONVOY__WIRE__MSG_TYPE__HELLO, "convoy-badpeer 0.1.0",
                           &len);
        break;
    }
    ok = transport_send_raw(sock, NULL, 0, buf, len);
    if (kind == K_GARBAGE || kind == K_EMPTY)
        fprintf(stderr, "badpeer: %s %s (%zu bytes)\n", ok ? "sent" : "could not send",
                kind_names[kind], len);
    else
        fprintf(stderr, "badpeer: %s %s (%zu bytes, seq %llu)\n", ok ? "sent" : "could not send",
                kind_names[kind], len, (unsigned long long)p->seq);
    free(buf);
    return ok;
}

/* Prints text on one line: control characters become '?'. */
static void
print_one_line(const char *s)
{
    for (; s && *s; s++)
        putchar((unsigned char)*s < 0x20 || *s == 0x7F ? '?' : *s);
}

static void
print_frame(const transport_frame_t *f)
{
    wire_msg_t *m = NULL;
    char err[256];
    wire_status_t st = wire_decode(f->data, f->len, &m, err, sizeof(err));
    const char *type = "INVALID", *message = err;
    uint32_t code = wire_status_error_code(st);

    if (m != NULL) {
        type = wire_type_name(m->type);
        code = 0;
        message = "";
        if (m->type == CONVOY__WIRE__MSG_TYPE__ERROR && m->error) {
            code = m->error->code;
            message = m->error->message;
        } else if (m->type == CONVOY__WIRE__MSG_TYPE__RESULT && m->result) {
            message = m->result->message;
        }
        if (st != WIRE_OK)
            fprintf(stderr, "badpeer: the reply decodes as %s: %s\n", wire_status_name(st), err);
        fprintf(stderr, "badpeer: received %zu bytes: %s from %s seq %llu major %u minor %u",
                f->len, type, m->node, (unsigned long long)m->seq, m->major, m->minor);
        if (m->error)
            fprintf(stderr, " in_reply_to %llu", (unsigned long long)m->error->in_reply_to);
        fputc('\n', stderr);
    } else {
        fprintf(stderr, "badpeer: received %zu bytes that do not decode: %s\n", f->len, err);
    }
    printf("recv %s code=%u message=", type, code);
    print_one_line(message);
    putchar('\n');
    fflush(stdout);
    wire_free(m);
}

/* Prints every frame that arrives within ms (0: only those already waiting). */
static void
listen_for(void *sock, int64_t ms)
{
    int64_t deadline = now_mono_ms() + ms;

    for (;;) {
        zmq_pollitem_t it = {.socket = sock, .events = ZMQ_POLLIN};
        int64_t left = deadline - now_mono_ms();
        transport_frame_t f;

        while (transport_recv(sock, false, &f)) {
            print_frame(&f);
            transport_frame_clear(&f);
        }
        if (left <= 0)
            break;
        zmq_poll(&it, 1, (long)left);
    }
}

static bool
parse_ms(const char *opt, const char *s, int64_t *out)
{
    if (parse_int64(s, 0, INT32_MAX, out))
        return true;
    fprintf(stderr, "convoy-badpeer: %s wants milliseconds (a whole number), not `%s`\n", opt, s);
    return false;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"endpoint", required_argument, NULL, 'e'},
        {"insecure", no_argument, NULL, 'i'},
        {"key-file", required_argument, NULL, 'k'},
        {"server-key", required_argument, NULL, 's'},
        {"node", required_argument, NULL, 'n'},
        {"identity", required_argument, NULL, 'I'},
        {"role", required_argument, NULL, 'r'},
        {"send", required_argument, NULL, 'S'},
        {"wait", required_argument, NULL, 'w'},
        {"pause", required_argument, NULL, 'p'},
        {"connect-timeout", required_argument, NULL, 'c'},
        {"seed", required_argument, NULL, 'x'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *endpoint = NULL, *key_file = NULL, *server_key = NULL, *identity = NULL;
    bool insecure = false, all_sent = true;
    peer_t peer = {.node = "badpeer", .role = "replica", .seq = 0};
    int sends[MAX_SENDS], n_sends = 0, c;
    int64_t wait_ms = 1000, pause_ms = 0, connect_ms = 3000, seed = -1;
    curve_keys_t keys;
    char server_pub[CURVE_KEY_Z85];
    char *err = NULL;
    void *ctx, *sock;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'e':
            endpoint = optarg;
            break;
        case 'i':
            insecure = true;
            break;
        case 'k':
            key_file = optarg;
            break;
        case 's':
            server_key = optarg;
            break;
        case 'n':
            peer.node = optarg;
            break;
        case 'I':
            identity = optarg;
            break;
        case 'r':
            peer.role = optarg;
            break;
        case 'S': {
            int k;
            for (k = 0; k < N_KINDS; k++)
                if (strcmp(optarg, kind_names[k]) == 0)
                    break;
            if (k == N_KINDS) {
                fprintf(stderr, "convoy-badpeer: unknown --send kind `%s`\n", optarg);
                usage(stderr);
                return 2;
            }
            if (n_sends == MAX_SENDS) {
                fprintf(stderr, "convoy-badpeer: at most %d --send\n", MAX_SENDS);
                return 2;
            }
            sends[n_sends++] = k;
            break;
        }
        case 'w':
            if (!parse_ms("--wait", optarg, &wait_ms))
                return 2;
            break;
        case 'p':
            if (!parse_ms("--pause", optarg, &pause_ms))
                return 2;
            break;
        case 'c':
            if (!parse_ms("--connect-timeout", optarg, &connect_ms))
                return 2;
            break;
        case 'x':
            if (!parse_int64(optarg, 0, INT64_MAX, &seed)) {
                fprintf(stderr, "convoy-badpeer: --seed wants a whole number\n");
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc || endpoint == NULL) {
        fprintf(stderr, "convoy-badpeer: %s\n",
                endpoint ? "unexpected arguments" : "--endpoint is required");
        usage(stderr);
        return 2;
    }
    if (insecure == (key_file != NULL || server_key != NULL) ||
        (!insecure && (key_file == NULL || server_key == NULL))) {
        fprintf(stderr, "convoy-badpeer: give either --insecure or both --key-file and "
                        "--server-key\n");
        return 2;
    }
    if (!insecure) {
        if (!keys_load(key_file, &keys, &err) || !keys_read_public(server_key, server_pub, &err)) {
            fprintf(stderr, "convoy-badpeer: %s\n", err);
            free(err);
            return 2;
        }
    }
    rng_state = (uint64_t)(seed >= 0 ? seed : now_wall_ms()) * 2654435761ULL + 1;

    ctx = zmq_ctx_new();
    sock = transport_connect_dealer(ctx, endpoint, identity, insecure ? NULL : &keys,
                                    insecure ? NULL : server_pub, &err);
    if (sock == NULL) {
        fprintf(stderr, "convoy-badpeer: %s\n", err);
        free(err);
        zmq_ctx_term(ctx);
        return 2;
    }
    fprintf(stderr, "badpeer: connecting to %s as %s (%s)\n", endpoint, peer.node,
            insecure ? "insecure: no CURVE" : "CURVE");

    for (int i = 0; i < n_sends; i++) {
        /* replies are read between sends too: libzmq discards what a dropped connection
         * still held unread (after an oversized frame, say) */
        listen_for(sock, i > 0 ? pause_ms : 0);
        if (!wait_writable(sock, connect_ms)) {
            fprintf(stderr,
                    "badpeer: could not send %s: not connected to %s after %lld ms (is it up? "
                    "CURVE keys refused?)\n",
                    kind_names[sends[i]], endpoint, (long long)connect_ms);
            all_sent = false;
            break;
        }
        if (!send_kind(sock, sends[i], &peer))
            all_sent = false;
    }

    listen_for(sock, wait_ms);
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return all_sent ? 0 : 1;
}
