/*
 * make_corpus.c: writes the fuzz seed corpus (tests/fuzz/corpus/): one valid frame per
 * message type and a few edge cases. Run by hand when the protocol changes:
 *   make_corpus tests/fuzz/corpus
 * (not run in CI; the generated files are checked in and replayed by fuzz_corpus_replay).
 */
#include "convoy/wire.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *out_dir;
static int n_written;

static void
write_bytes(const char *name, const uint8_t *data, size_t len)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", out_dir, name);
    f = fopen(path, "wb");
    if (f == NULL || (len > 0 && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    printf("%-28s %6zu bytes\n", name, len);
    n_written++;
}

/* Encodes m and writes it, with `extra` appended and cut to `keep` bytes (0: all). */
static void
write_msg(
    const char *name, const wire_msg_t *m, const uint8_t *extra, size_t extra_len, size_t keep)
{
    size_t len;
    uint8_t *buf = wire_encode(m, &len), *all;

    if (buf == NULL) {
        fprintf(stderr, "%s: cannot encode\n", name);
        exit(1);
    }
    all = malloc(len + extra_len);
    if (all == NULL)
        abort();
    memcpy(all, buf, len);
    if (extra_len)
        memcpy(all + len, extra, extra_len);
    len += extra_len;
    write_bytes(name, all, keep && keep < len ? keep : len);
    free(all);
    free(buf);
}

int
main(int argc, char **argv)
{
    static char *roles[] = {"replica"}, *caps[] = {"wait_lsn", "readers"};
    static const uint8_t unknown_field[] = {0x98, 0x06, 0x01}; /* field 99, varint 1 */
    wire_msg_t m;
    Convoy__Wire__Hello hello;
    Convoy__Wire__Welcome welcome;
    Convoy__Wire__Heartbeat heartbeat;
    Convoy__Wire__Report report;
    Convoy__Wire__ConflictCounters conflicts;
    Convoy__Wire__ReplicationPeer peer, *peers[] = {&peer};
    Convoy__Wire__Command command;
    Convoy__Wire__Result result;
    Convoy__Wire__Reader reader, *readers[] = {&reader};
    Convoy__Wire__Ack ack;
    Convoy__Wire__Error error;
    size_t len;
    uint8_t *buf;

    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
        return 2;
    }
    out_dir = argv[1];

    convoy__wire__hello__init(&hello);
    hello.n_roles = 1;
    hello.roles = roles;
    hello.software = "convoy-agent 0.1.0";
    hello.n_capabilities = 2;
    hello.capabilities = caps;
    wire_init(&m, CONVOY__WIRE__MSG_TYPE__HELLO, "r1", 1, "");
    m.hello = &hello;
    write_msg("hello.bin", &m, NULL, 0, 0);
    /* edge cases on the HELLO */
    m.major = 99;
    write_msg("wrong_major.bin", &m, NULL, 0, 0);
    m.major = WIRE_MAJOR;
    m.minor = WIRE_MINOR + 1;
    write_msg("newer_minor_unknown_field.bin", &m, unknown_field, sizeof(unknown_field), 0);
    m.minor = WIRE_MINOR;
    m.type = 42;
    m.hello = NULL;
    write_msg("unknown_type.bin", &m, NULL, 0, 0);
    m.type = CONVOY__WIRE__MSG_TYPE__HELLO;
    write_msg("hello_without_body.bin", &m, NULL, 0, 0);

    convoy__wire__welcome__init(&welcome);
    welcome.coordinator = "coord-a";
    welcome.software = "convoy 0.1.0";
    welcome.heartbeat_ms = 100;
    wire_init(&m, CONVOY__WIRE__MSG_TYPE__WELCOME, "coord-a", 1, "");
    m.welcome = &welcome;
    write_msg("welcome.bin", &m, NULL, 0, 0);

    convoy__wire__heartbeat__init(&heartbeat);
    heartbeat.interval_ms = 100;
    wire_init(&m, CONVOY__WIRE__MSG_TYPE__HEARTBEAT, "coord-a", 2, "20240501_add_email");
    m.heartbeat = &heartbeat;
    write_msg("heartbeat.bin", &m, NULL, 0, 0);

    convoy__wire__report__init(&report);
    convoy__wire__conflict_counters__init(&conflicts);
    report.role = "replica";
    report.db_ok = true;
    report.in_recovery = true;
    report.receive_lsn = 0x16B374D848ULL;
    report.replay_lsn = 0x16B374D000ULL;
    report.heartbeat_seq = -1;
    conflicts.lock = 2;
    conflicts.snapshot = 3;
    report.conflicts = &conflicts;
    wire_init(&m, CONVOY__WIRE__MSG_TYPE__REPORT, "r1", 2, "20240501_add_email");
    m.report = &report;
    write_msg("report_replica.bin", &m, NULL, 0, 0);
    buf = wire_encode(&m, &len);
    if (buf == NULL)
        abort();
    write_bytes("report_truncated.bin", buf, len / 2);
    free(buf);

    convoy__wire__report__init(&report);
    convoy__wire__replication_peer__init(&peer);
    report.role = "primary";
    report.db_ok = true;
    report.current_lsn = 0x16B374D848ULL;
    report.wal_bytes_per_s = 1048576.5;
    peer.application_name = "r1";
    peer.client_addr = "10.0.0.2";
    peer.state = "streaming";
    peer.sent_lsn = 0x16B374D848ULL;
    peer.replay_lsn = 0x16B374D000ULL;
    peer.replay_lag_s = -1;
    report.n_peers = 1;
    report.peers = peers;
    report.active_backends = 5;
    report.waiting_backends = 1;
    wire_init(&m, CONVOY__WIRE__MSG_TYPE__REPORT, "primary", 2, "");
    m.report = &report;
    write_msg("report_primary.bin", &m, NULL, 0, 0);

    convoy__wire__command__init(&command);
    command.id = 7;
    command.kind = "wait_lsn";
    command.lsn = 0x16B374D848ULL;
    command.timeout_ms = 60000;
    wire_init(&m, CONVOY__WIRE__MSG_TYPE__COMMAND, "coord-a", 3, "20240501_add_email");
    m.command = &command;
    write_msg("command_wait_lsn.bin", &m, NULL, 0, 0);
    convoy__wire__command__init(&command);
    command.id = 8;
    command.kind = "readers";
    command.table = "public.accounts";
    write_msg("command_readers.bin", &m, NULL, 0, 0);

    convoy__wire__result__init(&result);
    convoy__wire__reader__init(&reader);
    result.id = 8;
    result.ok = true;
    result.replay_lsn = 0x16B374D848ULL;
    reader.pid = 4242;
    reader.user = "app";
    reader.age_s = 12.5;
    reader.state = "idle in transaction";
    reader.query = "SELECT * FROM accounts";
    result.n_readers = 1;
    result.readers = readers;
    wire_init(&m, CONVOY__WIRE__MSG_TYPE__RESULT, "r1", 3, "20240501_add_email");
    m.result = &result;
    write_msg("result.bin", &m, NULL, 0, 0);

    convoy__wire__ack__init(&ack);
    ack.seq = 3;
    wire_init(&m, CONVOY__WIRE__MSG_TYPE__ACK, "r1", 4, "");
    m.ack = &ack;
    write_msg("ack.bin", &m, NULL, 0, 0);

    convoy__wire__error__init(&error);
    error.code = CONVOY__WIRE__WIRE_ERROR__E_UNKNOWN_TYPE;
    error.message = "unknown message type 42";
    error.in_reply_to = 9;
    wire_init(&m, CONVOY__WIRE__MSG_TYPE__ERROR, "coord-a", 4, "");
    m.error = &error;
    write_msg("error.bin", &m, NULL, 0, 0);

    /* the LSN text path of the fuzz body */
    write_bytes("lsn.txt", (const uint8_t *)"16/B374D848", 11);
    printf("%d files in %s\n", n_written, out_dir);
    return 0;
}
