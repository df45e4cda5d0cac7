/*
 * test_wire.c: the pure wire codec (proto/codec.c, include/convoy/wire.h). Every message
 * type survives wire_encode -> bytes -> wire_decode with its envelope and body fields
 * intact; an empty, oversized, garbage or truncated frame is refused (or, for some
 * truncations of a protobuf, still decodes) and never crashes; another major version and
 * an unknown type decode with *out set so the caller can answer; a newer minor version's
 * unknown fields are ignored; a type without the body it needs is malformed; decode
 * statuses map to ERROR codes; LSN text parses and formats like PostgreSQL's pg_lsn.
 * Leaks of decoded messages are caught by the ASan build (protobuf-c allocates with the
 * system malloc, which cmocka's allocation checks do not see).
 */
#include "convoy/wire.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------- message builders */

/* A message and the storage of every body it may point to. */
typedef struct {
    wire_msg_t m;
    Convoy__Wire__Hello hello;
    Convoy__Wire__Welcome welcome;
    Convoy__Wire__Heartbeat heartbeat;
    Convoy__Wire__Report report;
    Convoy__Wire__ConflictCounters conflicts;
    Convoy__Wire__ReplicationPeer peer_v[2];
    Convoy__Wire__ReplicationPeer *peers[2];
    Convoy__Wire__Command command;
    Convoy__Wire__Result result;
    Convoy__Wire__Reader reader_v[2];
    Convoy__Wire__Reader *readers[2];
    Convoy__Wire__Ack ack;
    Convoy__Wire__Error error;
} msg_src_t;

static char *hello_roles[] = {"primary", "replica"};
static char *hello_caps[] = {"wait_lsn", "readers", "ünïcödé capability"};
static char *welcome_caps[] = {"lease"};

static void
build_hello(msg_src_t *s)
{
    wire_init(&s->m, CONVOY__WIRE__MSG_TYPE__HELLO, "r1", 1, "");
    convoy__wire__hello__init(&s->hello);
    s->hello.n_roles = N_ELEMS(hello_roles);
    s->hello.roles = hello_roles;
    s->hello.software = "convoy-agent 0.1.0";
    s->hello.n_capabilities = N_ELEMS(hello_caps);
    s->hello.capabilities = hello_caps;
    s->m.hello = &s->hello;
}

static void
build_hello_minimal(msg_src_t *s)
{
    wire_init(&s->m, CONVOY__WIRE__MSG_TYPE__HELLO, NULL, 0, NULL);
    convoy__wire__hello__init(&s->hello);
    s->m.hello = &s->hello; /* an empty body is still a body */
}

static void
build_welcome(msg_src_t *s)
{
    wire_init(&s->m, CONVOY__WIRE__MSG_TYPE__WELCOME, "coord-a", 2, "20240501_add_email");
    convoy__wire__welcome__init(&s->welcome);
    s->welcome.coordinator = "coord-a";
    s->welcome.software = "convoy 0.1.0";
    s->welcome.heartbeat_ms = 250;
    s->welcome.n_capabilities = N_ELEMS(welcome_caps);
    s->welcome.capabilities = welcome_caps;
    s->m.welcome = &s->welcome;
}

static void
build_heartbeat(msg_src_t *s)
{
    wire_init(&s->m, CONVOY__WIRE__MSG_TYPE__HEARTBEAT, "coord-a", UINT64_MAX, "m");
    convoy__wire__heartbeat__init(&s->heartbeat);
    s->heartbeat.interval_ms = 100;
    s->m.heartbeat = &s->heartbeat;
}

/* HEARTBEAT and ACK carry only optional fields: no body at all is valid. */
static void
build_heartbeat_bare(msg_src_t *s)
{
    wire_init(&s->m, CONVOY__WIRE__MSG_TYPE__HEARTBEAT, "coord-a", 3, "");
}

static void
build_report_replica(msg_src_t *s)
{
    wire_init(&s->m, CONVOY__WIRE__MSG_TYPE__REPORT, "r1", 4, "20240501_add_email");
    convoy__wire__report__init(&s->report);
    convoy__wire__conflict_counters__init(&s->conflicts);
    s->report.role = "replica";
    s->report.db_ok = true;
    s->report.in_recovery = true;
    s->report.replay_paused = true;
    s->report.receive_lsn = 0x16B374D848ULL;
    s->report.replay_lsn = 0x16B374D000ULL;
    s->report.heartbeat_seq = -1;
    s->conflicts.tablespace = 1;
    s->conflicts.lock = 2;
    s->conflicts.snapshot = 3;
    s->conflicts.bufferpin = 4;
    s->conflicts.deadlock = UINT64_MAX;
    s->report.conflicts = &s->conflicts;
    s->m.report = &s->report;
}

static void
build_report_primary(msg_src_t *s)
{
    wire_init(&s->m, CONVOY__WIRE__MSG_TYPE__REPORT, "primary", 5, "");
    convoy__wire__report__init(&s->report);
    s->report.role = "primary";
    s->report.db_ok = false;
    s->report.db_error = "could not connect to server: \"No such file\"\nsecond line";
    s->report.current_lsn = UINT64_MAX;
    s->report.wal_bytes_per_s = 1234567.25;
    s->report.heartbeat_seq = INT64_MIN;
    for (size_t i = 0; i < 2; i++) {
        convoy__wire__replication_peer__init(&s->peer_v[i]);
        s->peers[i] = &s->peer_v[i];
    }
    s->peer_v[0].application_name = "r1";
    s->peer_v[0].client_addr = "10.0.0.2";
    s->peer_v[0].state = "streaming";
    s->peer_v[0].sent_lsn = 0x100000000ULL;
    s->peer_v[0].replay_lsn = 0xFFFFFFFFULL;
    s->peer_v[0].replay_lag_s = -1.0;
    s->peer_v[1].application_name = "r2";
    s->peer_v[1].state = "catchup";
    s->peer_v[1].replay_lag_s = 0.125;
    s->report.n_peers = 2;
    s->report.peers = s->peers;
    s->report.active_backends = 17;
    s->report.waiting_backends = 3;
    s->m.report = &s->report;
}

static void
build_command_wait_lsn(msg_src_t *s)
{
    wire_init(&s->m, CONVOY__WIRE__MSG_TYPE__COMMAND, "coord-a", 6, "20240501_add_email");
    convoy__wire__command__init(&s->command);
    s->command.id = 42;
    s->command.kind = "wait_lsn";
    s->command.lsn = 0x16B374D848ULL;
    s->command.timeout_ms = 60000;
    s->m.command = &s->command;
}

static void
build_command_readers(msg_src_t *s)
{
    wire_init(&s->m, CONVOY__WIRE__MSG_TYPE__COMMAND, "coord-a", 7, "m");
    convoy__wire__command__init(&s->command);
    s->command.id = UINT64_MAX;
    s->command.kind = "readers";
    s->command.table = "public.\"Weird Table\"";
    s->m.command = &s->command;
}

static void
build_result_readers(msg_src_t *s)
{
    wire_init(&s->m, CONVOY__WIRE__MSG_TYPE__RESULT, "r2", 8, "m");
    convoy__wire__result__init(&s->result);
    s->result.id = UINT64_MAX;
    s->result.ok = true;
    s->result.replay_lsn = 0x1ULL;
    for (size_t i = 0; i < 2; i++) {
        convoy__wire__reader__init(&s->reader_v[i]);
        s->readers[i] = &s->reader_v[i];
    }
    s->reader_v[0].pid = 12345;
    s->reader_v[0].user = "app";
    s->reader_v[0].age_s = 31.5;
    s->reader_v[0].state = "active";
    s->reader_v[0].query = "SELECT * FROM \"Weird Table\" WHERE x = 'é'";
    s->reader_v[1].pid = -1;
    s->reader_v[1].state = "idle in transaction";
    s->result.n_readers = 2;
    s->result.readers = s->readers;
    s->m.result = &s->result;
}

static void
build_result_timeout(msg_src_t *s)
{
    wire_init(&s->m, CONVOY__WIRE__MSG_TYPE__RESULT, "r1", 9, "");
    convoy__wire__result__init(&s->result);
    s->result.id = 42;
    s->result.ok = false;
    s->result.message = "timeout";
    s->result.replay_lsn = 0x16B374D000ULL;
    s->m.result = &s->result;
}

static void
build_ack(msg_src_t *s)
{
    wire_init(&s->m, CONVOY__WIRE__MSG_TYPE__ACK, "r1", 10, "");
    convoy__wire__ack__init(&s->ack);
    s->ack.seq = 9;
    s->m.ack = &s->ack;
}

static void
build_ack_bare(msg_src_t *s)
{
    wire_init(&s->m, CONVOY__WIRE__MSG_TYPE__ACK, "r1", 11, "");
}

static void
build_error(msg_src_t *s)
{
    wire_init(&s->m, CONVOY__WIRE__MSG_TYPE__ERROR, "coord-a", 12, "");
    convoy__wire__error__init(&s->error);
    s->error.code = CONVOY__WIRE__WIRE_ERROR__E_BAD_VERSION;
    s->error.message = "protocol major version 2, this side speaks 1";
    s->error.in_reply_to = 77;
    s->m.error = &s->error;
}

/* ------------------------------------------------------------- field checks */

static void
assert_str_eq(const char *want, const char *got)
{
    /* proto3 strings: an unset one decodes as "" */
    assert_non_null(got);
    assert_string_equal(want ? want : "", got);
}

static void
assert_strv_eq(size_t n_want, char *const *want, size_t n_got, char *const *got)
{
    assert_int_equal(n_want, n_got);
    for (size_t i = 0; i < n_want; i++)
        assert_str_eq(want[i], got[i]);
}

static void
assert_envelope_eq(const wire_msg_t *want, const wire_msg_t *got)
{
    assert_int_equal(want->major, got->major);
    assert_int_equal(want->minor, got->minor);
    assert_int_equal(want->type, got->type);
    assert_str_eq(want->node, got->node);
    assert_true(want->seq == got->seq);
    assert_str_eq(want->migration, got->migration);
    /* exactly the bodies that were sent */
    assert_true((want->hello == NULL) == (got->hello == NULL));
    assert_true((want->welcome == NULL) == (got->welcome == NULL));
    assert_true((want->heartbeat == NULL) == (got->heartbeat == NULL));
    assert_true((want->report == NULL) == (got->report == NULL));
    assert_true((want->command == NULL) == (got->command == NULL));
    assert_true((want->result == NULL) == (got->result == NULL));
    assert_true((want->ack == NULL) == (got->ack == NULL));
    assert_true((want->error == NULL) == (got->error == NULL));
}

static void
check_hello(const wire_msg_t *w, const wire_msg_t *g)
{
    assert_strv_eq(w->hello->n_roles, w->hello->roles, g->hello->n_roles, g->hello->roles);
    assert_str_eq(w->hello->software, g->hello->software);
    assert_strv_eq(w->hello->n_capabilities, w->hello->capabilities, g->hello->n_capabilities,
                   g->hello->capabilities);
}

static void
check_welcome(const wire_msg_t *w, const wire_msg_t *g)
{
    assert_str_eq(w->welcome->coordinator, g->welcome->coordinator);
    assert_str_eq(w->welcome->software, g->welcome->software);
    assert_int_equal(w->welcome->heartbeat_ms, g->welcome->heartbeat_ms);
    assert_strv_eq(w->welcome->n_capabilities, w->welcome->capabilities, g->welcome->n_capabilities,
                   g->welcome->capabilities);
}

static void
check_heartbeat(const wire_msg_t *w, const wire_msg_t *g)
{
    if (w->heartbeat)
        assert_true(w->heartbeat->interval_ms == g->heartbeat->interval_ms);
}

static void
check_report(const wire_msg_t *w, const wire_msg_t *g)
{
    const Convoy__Wire__Report *a = w->report, *b = g->report;

    assert_str_eq(a->role, b->role);
    assert_int_equal(a->db_ok, b->db_ok);
    assert_str_eq(a->db_error, b->db_error);
    assert_int_equal(a->in_recovery, b->in_recovery);
    assert_int_equal(a->replay_paused, b->replay_paused);
    assert_true(a->receive_lsn == b->receive_lsn);
    assert_true(a->replay_lsn == b->replay_lsn);
    assert_true(a->heartbeat_seq == b->heartbeat_seq);
    assert_true((a->conflicts == NULL) == (b->conflicts == NULL));
    if (a->conflicts) {
        assert_true(a->conflicts->tablespace == b->conflicts->tablespace);
        assert_true(a->conflicts->lock == b->conflicts->lock);
        assert_true(a->conflicts->snapshot == b->conflicts->snapshot);
        assert_true(a->conflicts->bufferpin == b->conflicts->bufferpin);
        assert_true(a->conflicts->deadlock == b->conflicts->deadlock);
    }
    assert_true(a->current_lsn == b->current_lsn);
    assert_true(a->wal_bytes_per_s == b->wal_bytes_per_s);
    assert_int_equal(a->n_peers, b->n_peers);
    for (size_t i = 0; i < a->n_peers; i++) {
        const Convoy__Wire__ReplicationPeer *p = a->peers[i], *q = b->peers[i];
        assert_str_eq(p->application_name, q->application_name);
        assert_str_eq(p->client_addr, q->client_addr);
        assert_str_eq(p->state, q->state);
        assert_true(p->sent_lsn == q->sent_lsn);
        assert_true(p->replay_lsn == q->replay_lsn);
        assert_true(p->replay_lag_s == q->replay_lag_s);
    }
    assert_int_equal(a->active_backends, b->active_backends);
    assert_int_equal(a->waiting_backends, b->waiting_backends);
}

static void
check_command(const wire_msg_t *w, const wire_msg_t *g)
{
    assert_true(w->command->id == g->command->id);
    assert_str_eq(w->command->kind, g->command->kind);
    assert_true(w->command->lsn == g->command->lsn);
    assert_str_eq(w->command->table, g->command->table);
    assert_int_equal(w->command->timeout_ms, g->command->timeout_ms);
}

static void
check_result(const wire_msg_t *w, const wire_msg_t *g)
{
    const Convoy__Wire__Result *a = w->result, *b = g->result;

    assert_true(a->id == b->id);
    assert_int_equal(a->ok, b->ok);
    assert_str_eq(a->message, b->message);
    assert_true(a->replay_lsn == b->replay_lsn);
    assert_int_equal(a->n_readers, b->n_readers);
    for (size_t i = 0; i < a->n_readers; i++) {
        const Convoy__Wire__Reader *p = a->readers[i], *q = b->readers[i];
        assert_int_equal(p->pid, q->pid);
        assert_str_eq(p->user, q->user);
        assert_true(p->age_s == q->age_s);
        assert_str_eq(p->state, q->state);
        assert_str_eq(p->query, q->query);
    }
}

static void
check_ack(const wire_msg_t *w, const wire_msg_t *g)
{
    if (w->ack)
        assert_true(w->ack->seq == g->ack->seq);
}

static void
check_error(const wire_msg_t *w, const wire_msg_t *g)
{
    assert_int_equal(w->error->code, g->error->code);
    assert_str_eq(w->error->message, g->error->message);
    assert_true(w->error->in_reply_to == g->error->in_reply_to);
}

typedef struct {
    const char *name;
    void (*build)(msg_src_t *s);
    void (*check)(const wire_msg_t *want, const wire_msg_t *got);
} kind_case_t;

static const kind_case_t kinds[] = {
    {"hello", build_hello, check_hello},
    {"hello_minimal", build_hello_minimal, check_hello},
    {"welcome", build_welcome, check_welcome},
    {"heartbeat", build_heartbeat, check_heartbeat},
    {"heartbeat_bare", build_heartbeat_bare, check_heartbeat},
    {"report_replica", build_report_replica, check_report},
    {"report_primary", build_report_primary, check_report},
    {"command_wait_lsn", build_command_wait_lsn, check_command},
    {"command_readers", build_command_readers, check_command},
    {"result_readers", build_result_readers, check_result},
    {"result_timeout", build_result_timeout, check_result},
    {"ack", build_ack, check_ack},
    {"ack_bare", build_ack_bare, check_ack},
    {"error", build_error, check_error},
};
#define N_KINDS N_ELEMS(kinds)

/* ------------------------------------------------------------- helpers */

static bool
status_has_msg(wire_status_t st)
{
    return st == WIRE_OK || st == WIRE_BAD_VERSION || st == WIRE_UNKNOWN_TYPE;
}

/*
 * Decodes and checks what holds for every input: a known status, *out set exactly when the
 * status says so, a reason for every refusal, a NUL-terminated err, and (on WIRE_OK) a
 * known type at this major version. Frees the message unless keep is given.
 */
static wire_status_t
decode_checked(const uint8_t *buf, size_t len, wire_msg_t **keep)
{
    wire_msg_t *m = (wire_msg_t *)&m; /* not NULL: wire_decode must set it */
    char err[128];
    wire_status_t st;

    memset(err, 'x', sizeof(err));
    st = wire_decode(buf, len, &m, err, sizeof(err));
    assert_true(st >= WIRE_OK && st <= WIRE_UNKNOWN_TYPE);
    assert_non_null(memchr(err, '\0', sizeof(err)));
    if (st == WIRE_OK)
        assert_string_equal(err, "");
    else
        assert_true(err[0] != '\0');
    if (!status_has_msg(st)) {
        assert_null(m);
        return st;
    }
    assert_non_null(m);
    if (st == WIRE_OK) {
        assert_int_equal(m->major, WIRE_MAJOR);
        assert_string_not_equal(wire_type_name(m->type), "UNKNOWN");
    } else if (st == WIRE_BAD_VERSION) {
        assert_int_not_equal(m->major, WIRE_MAJOR);
    } else {
        assert_string_equal(wire_type_name(m->type), "UNKNOWN");
    }
    if (keep)
        *keep = m;
    else
        wire_free(m);
    return st;
}

static uint8_t *
encode_checked(const wire_msg_t *m, size_t *len)
{
    uint8_t *buf = wire_encode(m, len);
    assert_non_null(buf);
    assert_true(*len > 0);
    assert_true(*len <= WIRE_MAX_FRAME);
    return buf;
}

/* a + b, freshly allocated */
static uint8_t *
concat(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, size_t *len)
{
    uint8_t *out = malloc(alen + blen);
    assert_non_null(out);
    memcpy(out, a, alen);
    memcpy(out + alen, b, blen);
    *len = alen + blen;
    return out;
}

static size_t
put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* xorshift64*: deterministic garbage */
static uint64_t
rnd(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* ------------------------------------------------------------- round trips */

static void
test_round_trip(void **state)
{
    const kind_case_t *k = *state;
    msg_src_t src;
    wire_msg_t *got = NULL;
    uint8_t *buf, *again;
    size_t len, again_len;

    memset(&src, 0, sizeof(src));
    k->build(&src);
    assert_int_equal(src.m.major, WIRE_MAJOR);
    assert_int_equal(src.m.minor, WIRE_MINOR);
    buf = encode_checked(&src.m, &len);
    assert_int_equal(decode_checked(buf, len, &got), WIRE_OK);
    assert_envelope_eq(&src.m, got);
    k->check(&src.m, got);
    /* the encoding is canonical: the decoded message encodes to the same bytes */
    again = encode_checked(got, &again_len);
    assert_int_equal(len, again_len);
    assert_memory_equal(buf, again, len);
    free(again);
    wire_free(got);
    free(buf);
}

/* Every prefix of a valid frame: refused, or (cut between fields) decoded; never a crash. */
static void
test_truncations(void **state)
{
    const kind_case_t *k = *state;
    msg_src_t src;
    uint8_t *buf;
    size_t len;

    memset(&src, 0, sizeof(src));
    k->build(&src);
    buf = encode_checked(&src.m, &len);
    for (size_t cut = 0; cut < len; cut++) {
        /* a copy of exactly cut bytes, so ASan sees any read past the end */
        uint8_t *prefix = malloc(cut ? cut : 1);
        wire_msg_t *got = NULL;
        wire_status_t st;

        assert_non_null(prefix);
        memcpy(prefix, buf, cut);
        st = decode_checked(prefix, cut, &got);
        if (cut == 0) {
            assert_int_equal(st, WIRE_EMPTY);
        } else {
            /* major is the first field: a prefix keeps it, or is too short to parse */
            assert_true(st == WIRE_MALFORMED || st == WIRE_OK || st == WIRE_UNKNOWN_TYPE);
        }
        if (got) {
            assert_int_equal(got->major, WIRE_MAJOR);
            if (st == WIRE_OK)
                assert_int_equal(got->type, src.m.type);
            wire_free(got);
        }
        free(prefix);
    }
    free(buf);
}

/* ------------------------------------------------------------- refusals */

static void
test_empty(void **state)
{
    static const uint8_t one = 0;
    wire_msg_t *m = (wire_msg_t *)&m;
    char err[64];

    (void)state;
    assert_int_equal(wire_decode(&one, 0, &m, err, sizeof(err)), WIRE_EMPTY);
    assert_null(m);
    assert_non_null(strstr(err, "empty"));
    m = (wire_msg_t *)&m;
    assert_int_equal(wire_decode(NULL, 0, &m, NULL, 0), WIRE_EMPTY);
    assert_null(m);
    assert_string_equal(wire_status_name(WIRE_EMPTY), "empty");
}

/* The largest HELLO that fits, and the limit's both sides for encode and decode. */
static void
test_size_limit(void **state)
{
    msg_src_t src;
    wire_msg_t *got = NULL;
    char *software = malloc(WIRE_MAX_FRAME + 1);
    uint8_t *buf, *big;
    size_t len = 0, n;
    char err[128];

    (void)state;
    assert_non_null(software);
    build_hello_minimal(&src);
    src.hello.software = software;
    /* grow the string until the frame is exactly WIRE_MAX_FRAME bytes */
    for (n = WIRE_MAX_FRAME - 64;; n++) {
        memset(software, 's', n);
        software[n] = '\0';
        if (convoy__wire__envelope__get_packed_size(&src.m) >= WIRE_MAX_FRAME)
            break;
    }
    assert_int_equal(convoy__wire__envelope__get_packed_size(&src.m), WIRE_MAX_FRAME);
    buf = encode_checked(&src.m, &len);
    assert_int_equal(len, WIRE_MAX_FRAME);
    assert_int_equal(decode_checked(buf, len, &got), WIRE_OK);
    assert_int_equal(strlen(got->hello->software), n);
    wire_free(got);
    free(buf);

    /* one byte more: encode refuses it */
    memset(software, 's', n + 1);
    software[n + 1] = '\0';
    len = 99;
    assert_null(wire_encode(&src.m, &len));
    assert_int_equal(len, 0);

    /* a frame of WIRE_MAX_FRAME + 1 bytes is refused unread (even a valid protobuf) */
    big = malloc(WIRE_MAX_FRAME + 1);
    assert_non_null(big);
    n = convoy__wire__envelope__pack(&src.m, big);
    assert_int_equal(n, WIRE_MAX_FRAME + 1);
    got = (wire_msg_t *)&got;
    assert_int_equal(wire_decode(big, WIRE_MAX_FRAME + 1, &got, err, sizeof(err)), WIRE_TOO_LARGE);
    assert_null(got);
    assert_non_null(strstr(err, "limit"));
    /* and garbage of that size, and far over it */
    memset(big, 0xFF, WIRE_MAX_FRAME + 1);
    assert_int_equal(decode_checked(big, WIRE_MAX_FRAME + 1, NULL), WIRE_TOO_LARGE);
    assert_int_equal(decode_checked(big, SIZE_MAX, NULL), WIRE_TOO_LARGE);
    free(big);
    free(software);
}

/* Random bytes, and valid frames with a few bytes changed: any status but a crash. */
static void
test_garbage(void **state)
{
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    unsigned counts[WIRE_UNKNOWN_TYPE + 1] = {0};
    uint8_t buf[512];

    (void)state;
    for (int i = 0; i < 20000; i++) {
        size_t len = 1 + rnd(&seed) % sizeof(buf);
        uint8_t *copy;
        wire_status_t st;

        for (size_t j = 0; j < len; j++)
            buf[j] = (uint8_t)rnd(&seed);
        copy = malloc(len);
        assert_non_null(copy);
        memcpy(copy, buf, len);
        st = decode_checked(copy, len, NULL);
        assert_true(st != WIRE_EMPTY && st != WIRE_TOO_LARGE);
        counts[st]++;
        free(copy);
    }
    /* mutations of every valid frame reach deeper into the parser */
    for (size_t k = 0; k < N_KINDS; k++) {
        msg_src_t src;
        uint8_t *frame;
        size_t len;

        memset(&src, 0, sizeof(src));
        kinds[k].build(&src);
        frame = encode_checked(&src.m, &len);
        for (int i = 0; i < 2000; i++) {
            uint8_t *copy = malloc(len);
            int flips = 1 + (int)(rnd(&seed) % 4);
            assert_non_null(copy);
            memcpy(copy, frame, len);
            for (int f = 0; f < flips; f++)
                copy[rnd(&seed) % len] = (uint8_t)rnd(&seed);
            counts[decode_checked(copy, len, NULL)]++;
            free(copy);
        }
        free(frame);
    }
    /* the garbage was varied enough to be refused as such */
    assert_true(counts[WIRE_MALFORMED] > 0);
}

/* Hand-made byte strings that are not envelopes. */
typedef struct {
    const char *name;
    const uint8_t *bytes;
    size_t len;
} bytes_case_t;

#define BYTES(name, ...)                                                                           \
    {                                                                                              \
        name, (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})               \
    }

static const bytes_case_t malformed_cases[] = {
    BYTES("lone tag", 0x08),
    BYTES("varint cut", 0x08, 0x81),
    BYTES("varint of 11 bytes",
          0x08,
          0xFF,
          0xFF,
          0xFF,
          0xFF,
          0xFF,
          0xFF,
          0xFF,
          0xFF,
          0xFF,
          0xFF,
          0x01),
    BYTES("major as a string", 0x0A, 0x01, 0x01),
    BYTES("node length past the end", 0x08, 0x01, 0x18, 0x01, 0x22, 0x10, 'r', '1'),
    BYTES("hello body as a varint", 0x08, 0x01, 0x18, 0x01, 0x50, 0x01),
    BYTES("hello body past the end", 0x08, 0x01, 0x18, 0x01, 0x52, 0x05, 0x0A),
    BYTES("field number 0", 0x00, 0x01),
    BYTES("wire type 7", 0x0F, 0x01),
    BYTES("end group without start", 0x0C),
    BYTES("unknown fixed64 cut", 0x08, 0x01, 0xA9, 0x06, 0x01, 0x02),
    BYTES("HELLO without its body", 0x08, 0x01, 0x18, 0x01, 0x22, 0x02, 'r', '1'),
};

static void
test_malformed_bytes(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ELEMS(malformed_cases); i++) {
        const bytes_case_t *c = &malformed_cases[i];
        uint8_t *copy = malloc(c->len);
        assert_non_null(copy);
        memcpy(copy, c->bytes, c->len);
        if (decode_checked(copy, c->len, NULL) != WIRE_MALFORMED)
            fail_msg("%s: not refused as malformed", c->name);
        free(copy);
    }
}

/* Each type that needs a body, sent without it (or with another type's body). */
static void
test_missing_body(void **state)
{
    static const struct {
        uint32_t type;
        const char *name;
    } needs[] = {
        {CONVOY__WIRE__MSG_TYPE__HELLO, "HELLO"},   {CONVOY__WIRE__MSG_TYPE__WELCOME, "WELCOME"},
        {CONVOY__WIRE__MSG_TYPE__REPORT, "REPORT"}, {CONVOY__WIRE__MSG_TYPE__COMMAND, "COMMAND"},
        {CONVOY__WIRE__MSG_TYPE__RESULT, "RESULT"}, {CONVOY__WIRE__MSG_TYPE__ERROR, "ERROR"},
    };
    (void)state;
    for (size_t i = 0; i < N_ELEMS(needs); i++) {
        msg_src_t src;
        wire_msg_t *m = (wire_msg_t *)&m;
        char err[128];
        uint8_t *buf;
        size_t len;

        memset(&src, 0, sizeof(src));
        build_ack(&src); /* an ACK body, which none of these types reads */
        src.m.type = needs[i].type;
        buf = encode_checked(&src.m, &len);
        assert_int_equal(wire_decode(buf, len, &m, err, sizeof(err)), WIRE_MALFORMED);
        assert_null(m);
        assert_non_null(strstr(err, needs[i].name));
        assert_non_null(strstr(err, "body"));
        free(buf);
    }
}

/* The brief's case, spelled out: a REPORT frame without a report. */
static void
test_report_without_body(void **state)
{
    msg_src_t src;
    uint8_t *buf;
    size_t len;

    (void)state;
    memset(&src, 0, sizeof(src));
    build_report_replica(&src);
    src.m.report = NULL;
    buf = encode_checked(&src.m, &len);
    assert_int_equal(decode_checked(buf, len, NULL), WIRE_MALFORMED);
    free(buf);
}

/* ------------------------------------------------------------- versions and types */

static void
test_bad_version(void **state)
{
    static const uint32_t majors[] = {0, WIRE_MAJOR + 1, 99, UINT32_MAX};
    (void)state;
    for (size_t i = 0; i < N_ELEMS(majors); i++) {
        msg_src_t src;
        wire_msg_t *got = NULL;
        char err[128];
        uint8_t *buf;
        size_t len;

        memset(&src, 0, sizeof(src));
        build_hello(&src);
        src.m.major = majors[i];
        src.m.seq = 1000 + i;
        buf = encode_checked(&src.m, &len);
        assert_int_equal(wire_decode(buf, len, &got, err, sizeof(err)), WIRE_BAD_VERSION);
        /* *out is set: the caller answers ERROR E_BAD_VERSION in_reply_to seq */
        assert_non_null(got);
        assert_int_equal(got->major, majors[i]);
        assert_string_equal(got->node, "r1");
        assert_true(got->seq == 1000 + i);
        assert_non_null(strstr(err, "major"));
        wire_free(got);
        free(buf);
    }
}

/* The version is checked first: a foreign major with an unknown type is BAD_VERSION. */
static void
test_bad_version_before_type(void **state)
{
    msg_src_t src;
    uint8_t *buf;
    size_t len;

    (void)state;
    memset(&src, 0, sizeof(src));
    build_hello(&src);
    src.m.major = 99;
    src.m.type = 42;
    src.m.hello = NULL;
    buf = encode_checked(&src.m, &len);
    assert_int_equal(decode_checked(buf, len, NULL), WIRE_BAD_VERSION);
    free(buf);
}

static void
test_unknown_type(void **state)
{
    static const uint32_t types[] = {42, 0, 11, UINT32_MAX};
    (void)state;
    for (size_t i = 0; i < N_ELEMS(types); i++) {
        msg_src_t src;
        wire_msg_t *got = NULL;
        char err[128];
        uint8_t *buf;
        size_t len;

        memset(&src, 0, sizeof(src));
        wire_init(&src.m, types[i], "r1", 500 + i, "m");
        src.m.minor = WIRE_MINOR + 1; /* a type from a newer minor version */
        buf = encode_checked(&src.m, &len);
        assert_int_equal(wire_decode(buf, len, &got, err, sizeof(err)), WIRE_UNKNOWN_TYPE);
        assert_non_null(got);
        assert_int_equal(got->type, types[i]);
        assert_string_equal(got->node, "r1");
        assert_true(got->seq == 500 + i);
        assert_non_null(strstr(err, "unknown message type"));
        assert_string_equal(wire_type_name(types[i]), "UNKNOWN");
        wire_free(got);
        free(buf);
    }
}

/* A newer minor version's fields, appended to a valid frame, are ignored. */
static void
test_newer_minor_unknown_fields(void **state)
{
    const bytes_case_t extras[] = {
        BYTES("varint field 99", 0x98, 0x06, 0x01),
        BYTES("string field 100", 0xA2, 0x06, 0x03, 'a', 'b', 'c'),
        BYTES("fixed64 field 101", 0xA9, 0x06, 1, 2, 3, 4, 5, 6, 7, 8),
        BYTES("fixed32 field 102", 0xB5, 0x06, 1, 2, 3, 4),
        BYTES("varint field 7 (unused number)", 0x38, 0x80, 0x01),
        BYTES("all of them", 0x98, 0x06, 0x01, 0xA2, 0x06, 0x00, 0xB5, 0x06, 1, 2, 3, 4),
    };
    (void)state;
    for (size_t k = 0; k < N_KINDS; k++) {
        for (size_t e = 0; e < N_ELEMS(extras); e++) {
            msg_src_t src;
            wire_msg_t *got = NULL;
            uint8_t *buf, *full;
            size_t len, full_len;

            memset(&src, 0, sizeof(src));
            kinds[k].build(&src);
            src.m.minor = WIRE_MINOR + 7;
            buf = encode_checked(&src.m, &len);
            full = concat(buf, len, extras[e].bytes, extras[e].len, &full_len);
            if (decode_checked(full, full_len, &got) != WIRE_OK)
                fail_msg("%s + %s: not decoded", kinds[k].name, extras[e].name);
            assert_envelope_eq(&src.m, got);
            kinds[k].check(&src.m, got);
            wire_free(got);
            free(full);
            free(buf);
        }
    }
}

/* An unknown field inside a body (a newer minor's REPORT field) is ignored too. */
static void
test_newer_minor_unknown_body_field(void **state)
{
    static const uint8_t extra[] = {0x98, 0x06, 0x01};
    msg_src_t src;
    Convoy__Wire__Report *report;
    wire_msg_t *got = NULL;
    uint8_t *env, *body, *frame, hdr[16];
    size_t env_len, body_len, hdr_len, frame_len;

    (void)state;
    memset(&src, 0, sizeof(src));
    build_report_replica(&src);
    src.m.minor = WIRE_MINOR + 1;
    report = src.m.report;
    /* the body alone, with the extra field */
    body = malloc(convoy__wire__report__get_packed_size(report) + sizeof(extra));
    assert_non_null(body);
    body_len = convoy__wire__report__pack(report, body);
    memcpy(body + body_len, extra, sizeof(extra));
    body_len += sizeof(extra);
    /* the envelope without it, then field 13 (report, length-delimited) */
    src.m.report = NULL;
    env = encode_checked(&src.m, &env_len);
    hdr[0] = (13 << 3) | 2;
    hdr_len = 1 + put_varint(hdr + 1, body_len);
    frame = malloc(env_len + hdr_len + body_len);
    assert_non_null(frame);
    memcpy(frame, env, env_len);
    memcpy(frame + env_len, hdr, hdr_len);
    memcpy(frame + env_len + hdr_len, body, body_len);
    frame_len = env_len + hdr_len + body_len;

    assert_int_equal(decode_checked(frame, frame_len, &got), WIRE_OK);
    src.m.report = report;
    assert_envelope_eq(&src.m, got);
    check_report(&src.m, got);
    wire_free(got);
    free(frame);
    free(env);
    free(body);
}

/* ------------------------------------------------------------- names and codes */

static void
test_status_codes(void **state)
{
    static const struct {
        wire_status_t st;
        const char *name;
        uint32_t code;
    } map[] = {
        {WIRE_OK, "ok", CONVOY__WIRE__WIRE_ERROR__E_NONE},
        {WIRE_EMPTY, "empty", CONVOY__WIRE__WIRE_ERROR__E_MALFORMED},
        {WIRE_TOO_LARGE, "too_large", CONVOY__WIRE__WIRE_ERROR__E_TOO_LARGE},
        {WIRE_MALFORMED, "malformed", CONVOY__WIRE__WIRE_ERROR__E_MALFORMED},
        {WIRE_BAD_VERSION, "bad_version", CONVOY__WIRE__WIRE_ERROR__E_BAD_VERSION},
        {WIRE_UNKNOWN_TYPE, "unknown_type", CONVOY__WIRE__WIRE_ERROR__E_UNKNOWN_TYPE},
    };
    (void)state;
    for (size_t i = 0; i < N_ELEMS(map); i++) {
        assert_int_equal(wire_status_error_code(map[i].st), map[i].code);
        assert_string_equal(wire_status_name(map[i].st), map[i].name);
    }
    assert_string_equal(wire_status_name((wire_status_t)99), "unknown");
}

static void
test_type_names(void **state)
{
    static const struct {
        uint32_t type;
        const char *name;
    } names[] = {
        {CONVOY__WIRE__MSG_TYPE__HELLO, "HELLO"},
        {CONVOY__WIRE__MSG_TYPE__WELCOME, "WELCOME"},
        {CONVOY__WIRE__MSG_TYPE__HEARTBEAT, "HEARTBEAT"},
        {CONVOY__WIRE__MSG_TYPE__REPORT, "REPORT"},
        {CONVOY__WIRE__MSG_TYPE__COMMAND, "COMMAND"},
        {CONVOY__WIRE__MSG_TYPE__RESULT, "RESULT"},
        {CONVOY__WIRE__MSG_TYPE__ACK, "ACK"},
        {CONVOY__WIRE__MSG_TYPE__ERROR, "ERROR"},
        {CONVOY__WIRE__MSG_TYPE__MSG_NONE, "UNKNOWN"},
        {42, "UNKNOWN"},
    };
    (void)state;
    for (size_t i = 0; i < N_ELEMS(names); i++)
        assert_string_equal(wire_type_name(names[i].type), names[i].name);
}

/* err may be NULL, zero-sized or short: never written past. */
static void
test_err_buffer(void **state)
{
    static const uint8_t garbage[] = {0xFF, 0xFF};
    wire_msg_t *m;
    char err[8];

    (void)state;
    assert_int_equal(wire_decode(garbage, sizeof(garbage), &m, NULL, 0), WIRE_MALFORMED);
    memset(err, 'x', sizeof(err));
    assert_int_equal(wire_decode(garbage, sizeof(garbage), &m, err, 1), WIRE_MALFORMED);
    assert_int_equal(err[0], '\0');
    assert_int_equal(err[1], 'x');
    assert_int_equal(wire_decode(garbage, sizeof(garbage), &m, err, 0), WIRE_MALFORMED);
    assert_int_equal(err[0], '\0');
    assert_int_equal(wire_decode(garbage, sizeof(garbage), &m, err, 5), WIRE_MALFORMED);
    assert_int_equal(strlen(err), 4);
    assert_int_equal(err[5], 'x');
}

/* ------------------------------------------------------------- LSNs */

typedef struct {
    const char *text;
    bool ok;
    uint64_t lsn;
    const char *formatted; /* NULL: the text itself */
} lsn_case_t;

static const lsn_case_t lsn_cases[] = {
    {"0/0", true, 0, NULL},
    {"FFFFFFFF/FFFFFFFF", true, UINT64_MAX, NULL},
    {"16/B374D848", true, 0x16B374D848ULL, NULL},
    {"16/b374d848", true, 0x16B374D848ULL, "16/B374D848"},
    {"0/1", true, 1, NULL},
    {"1/0", true, 0x100000000ULL, NULL},
    {"0/FFFFFFFF", true, 0xFFFFFFFFULL, NULL},
    {"00000000/00000001", true, 1, "0/1"},
    {"", false, 0, NULL},
    {"1/", false, 0, NULL},
    {"/1", false, 0, NULL},
    {"/", false, 0, NULL},
    {"x/1", false, 0, NULL},
    {"1/x", false, 0, NULL},
    {"1/2/3", false, 0, NULL},
    {"1/2 ", false, 0, NULL},
    {" 1/2", false, 0, NULL},
    {"1 /2", false, 0, NULL},
    {"1/ 2", false, 0, NULL},
    {"+1/2", false, 0, NULL},
    {"1/+2", false, 0, NULL},
    {"-1/2", false, 0, NULL},
    {"1/-2", false, 0, NULL},
    {"0x1/2", false, 0, NULL},
    {"1/0x2", false, 0, NULL},
    {"123", false, 0, NULL},
    {"1FFFFFFFF/0", false, 0, NULL}, /* nine digits: would wrap */
    {"0/100000000", false, 0, NULL},
    {"1/2\n", false, 0, NULL},
};

static void
test_lsn_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ELEMS(lsn_cases); i++) {
        const lsn_case_t *c = &lsn_cases[i];
        uint64_t got = 0xDEADBEEFULL;
        bool ok = wire_lsn_parse(c->text, &got);

        if (ok != c->ok)
            fail_msg("wire_lsn_parse(\"%s\") = %d, want %d", c->text, ok, c->ok);
        if (!ok) {
            assert_true(got == 0xDEADBEEFULL); /* untouched on failure */
            continue;
        }
        if (got != c->lsn)
            fail_msg("wire_lsn_parse(\"%s\") = %llx, want %llx", c->text, (unsigned long long)got,
                     (unsigned long long)c->lsn);
        char buf[32];
        wire_lsn_format(got, buf, sizeof(buf));
        assert_string_equal(buf, c->formatted ? c->formatted : c->text);
    }
    {
        uint64_t got = 7;
        assert_false(wire_lsn_parse(NULL, &got));
        assert_true(got == 7);
    }
}

static void
test_lsn_format_round_trip(void **state)
{
    static const uint64_t values[] = {
        0, 1, 0xFFFFFFFFULL, 0x100000000ULL, 0x16B374D848ULL, UINT64_MAX, 0x8000000000000000ULL,
    };
    uint64_t seed = 12345;

    (void)state;
    for (size_t i = 0; i < N_ELEMS(values) + 1000; i++) {
        uint64_t v = i < N_ELEMS(values) ? values[i] : rnd(&seed), back = 0;
        char buf[18]; /* "FFFFFFFF/FFFFFFFF" and its NUL: the longest */

        wire_lsn_format(v, buf, sizeof(buf));
        assert_true(wire_lsn_parse(buf, &back));
        assert_true(back == v);
    }
    {
        char small[4];
        wire_lsn_format(UINT64_MAX, small, sizeof(small)); /* truncated, terminated */
        assert_string_equal(small, "FFF");
    }
}

/* ------------------------------------------------------------- main */

int
main(void)
{
    struct CMUnitTest trips[N_KINDS], cuts[N_KINDS];
    const struct CMUnitTest misc[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_malformed_bytes),
        cmocka_unit_test(test_missing_body),
        cmocka_unit_test(test_report_without_body),
        cmocka_unit_test(test_bad_version),
        cmocka_unit_test(test_bad_version_before_type),
        cmocka_unit_test(test_unknown_type),
        cmocka_unit_test(test_newer_minor_unknown_fields),
        cmocka_unit_test(test_newer_minor_unknown_body_field),
        cmocka_unit_test(test_status_codes),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_err_buffer),
        cmocka_unit_test(test_lsn_parse),
        cmocka_unit_test(test_lsn_format_round_trip),
    };
    int failed = 0;

    memset(trips, 0, sizeof(trips));
    memset(cuts, 0, sizeof(cuts));
    for (size_t i = 0; i < N_KINDS; i++) {
        trips[i].name = kinds[i].name;
        trips[i].test_func = test_round_trip;
        trips[i].initial_state = (void *)&kinds[i];
        cuts[i].name = kinds[i].name;
        cuts[i].test_func = test_truncations;
        cuts[i].initial_state = (void *)&kinds[i];
    }
    failed += _cmocka_run_group_tests("wire_round_trip", trips, N_KINDS, NULL, NULL);
    failed += _cmocka_run_group_tests("wire_truncations", cuts, N_KINDS, NULL, NULL);
    failed += cmocka_run_group_tests_name("wire_misc", misc, NULL, NULL);
    return failed == 0 ? 0 : 1;
}
