/*
 * convoy-reportsink: a stand-in coordinator for agent tests. Binds a plain-text (insecure)
 * ROUTER, answers HELLO with WELCOME, and keeps the newest REPORT and HELLO it received in
 * FILE (rewritten atomically, one `key=value` line each), so a script can assert what an
 * agent reports:
 *
 *   convoy-reportsink tcp://127.0.0.1:PORT FILE
 *
 *   hello node=cache-1 roles=cache capabilities=cache
 *   report node=cache-1 seq=17 role=cache db_ok=1 redis_ok=1 cache_pending=0
 *     cache_confirmed=4 app_version= app_error_rate=0.000 db_error= redis_error=   (one line)
 *
 * Runs until SIGTERM or SIGINT.
 */
#include "convoy/transport.h"
#include "convoy/util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* Control characters and spaces as '_': one value, one token. */
static void
put_token(sb_t *sb, const char *s)
{
    for (; s && *s; s++)
        sb_putc(sb, (unsigned char)*s <= 0x20 ? '_' : *s);
}

static void
write_state(const char *path, const char *hello, const char *report)
{
    char *tmp = xasprintf("%s.tmp", path);
    FILE *f = fopen(tmp, "w");

    if (f == NULL) {
        perror(tmp);
        free(tmp);
        return;
    }
    fprintf(f, "%s\n%s\n", hello, report);
    if (fclose(f) == 0)
        rename(tmp, path);
    free(tmp);
}

int
main(int argc, char **argv)
{
    void *zctx, *sock;
    char *err = NULL, *hello = xstrdup("hello none"), *report = xstrdup("report none");
    uint64_t seq = 0;

    if (argc != 3) {
        fprintf(stderr, "usage: convoy-reportsink ENDPOINT FILE\n");
        return 2;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    zctx = zmq_ctx_new();
    sock = transport_bind_router(zctx, argv[1], NULL, &err);
    if (sock == NULL) {
        fprintf(stderr, "convoy-reportsink: %s\n", err);
        return 1;
    }
    write_state(argv[2], hello, report);
    while (!stop) {
        zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
        transport_frame_t fr;

        if (zmq_poll(&it, 1, 200) <= 0)
            continue;
        while (transport_recv(sock, true, &fr)) {
            wire_msg_t *m = NULL;
            sb_t sb;

            if (wire_decode(fr.data, fr.len, &m, NULL, 0) != WIRE_OK) {
                transport_frame_clear(&fr);
                continue;
            }
            sb_init(&sb);
            if (m->type == CONVOY__WIRE__MSG_TYPE__HELLO && m->hello) {
                Convoy__Wire__Welcome w = CONVOY__WIRE__WELCOME__INIT;
                wire_msg_t out;

                sb_puts(&sb, "hello node=");
                put_token(&sb, m->node);
                sb_puts(&sb, " roles=");
                for (size_t i = 0; i < m->hello->n_roles; i++) {
                    sb_puts(&sb, i ? "," : "");
                    put_token(&sb, m->hello->roles[i]);
                }
                sb_puts(&sb, " capabilities=");
                for (size_t i = 0; i < m->hello->n_capabilities; i++) {
                    sb_puts(&sb, i ? "," : "");
                    put_token(&sb, m->hello->capabilities[i]);
                }
                free(hello);
                hello = sb_steal(&sb);
                w.coordinator = "reportsink";
                w.software = "convoy-reportsink";
                wire_init(&out, CONVOY__WIRE__MSG_TYPE__WELCOME, "reportsink", ++seq, NULL);
                out.welcome = &w;
                transport_send(sock, fr.identity, fr.identity_len, &out);
            } else if (m->type == CONVOY__WIRE__MSG_TYPE__REPORT && m->report) {
                const Convoy__Wire__Report *r = m->report;
                sb_puts(&sb, "report node=");
                put_token(&sb, m->node);
                sb_printf(&sb, " seq=%llu role=", (unsigned long long)m->seq);
                put_token(&sb, r->role);
                sb_printf(&sb, " db_ok=%d redis_ok=%d cache_pending=%llu cache_confirmed=%llu",
                          r->db_ok ? 1 : 0, r->redis_ok ? 1 : 0,
                          (unsigned long long)r->cache_pending,
                          (unsigned long long)r->cache_confirmed);
                sb_puts(&sb, " app_version=");
                put_token(&sb, r->app_version);
                sb_printf(&sb, " app_error_rate=%.3f", r->app_error_rate);
                sb_puts(&sb, " db_error=");
                put_token(&sb, r->db_error);
                sb_puts(&sb, " redis_error=");
                put_token(&sb, r->redis_error);
                free(report);
                report = sb_steal(&sb);
                {
                    /* any frame keeps the agent's silence rule quiet */
                    Convoy__Wire__Ack ack = CONVOY__WIRE__ACK__INIT;
                    wire_msg_t out;
                    ack.seq = m->seq;
                    wire_init(&out, CONVOY__WIRE__MSG_TYPE__ACK, "reportsink", ++seq, NULL);
                    out.ack = &ack;
                    transport_send(sock, fr.identity, fr.identity_len, &out);
                }
            } else {
                sb_free(&sb);
                wire_free(m);
                transport_frame_clear(&fr);
                continue;
            }
            wire_free(m);
            transport_frame_clear(&fr);
            write_state(argv[2], hello, report);
        }
    }
    free(hello);
    free(report);
    zmq_close(sock);
    zmq_ctx_term(zctx);
    return 0;
}
