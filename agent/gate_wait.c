/*
 * gate_wait.c: `convoy-agent gate wait`: the local deploy gate. Asks the coordinators (over
 * the agent's own CURVE identity, on a connection of its own) whether app version V may
 * start on this node, every second, until one answers open (exit 0), failed (1), or the
 * timeout passes (2). No answer is never open: it fails closed.
 */
#include "gate_wait.h"

#include "convoy/log.h"
#include "convoy/transport.h"
#include "convoy/util.h"
#include "convoy/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define ASK_EVERY_MS 1000
/* until the first answer: a DEALER drops what it sends before the handshake completes */
#define ASK_FIRST_MS 100

/* Prints the reasons when they differ from the last ones printed. */
static void
say_reasons(const Convoy__Wire__GateState *g, char *last, size_t last_len)
{
    char now[2048] = "";
    size_t off = 0;

    for (size_t i = 0; i < g->n_reasons && off < sizeof(now); i++)
        off += (size_t)snprintf(now + off, sizeof(now) - off, "  %s\n", g->reasons[i]);
    if (strcmp(now, last) != 0) {
        fprintf(stderr, "convoy-agent gate wait: %s\n%s", g->state, now);
        snprintf(last, last_len, "%s", now);
    }
}

int
gate_wait_run(const agent_config_t *cfg, const char *version, int64_t timeout_ms)
{
    const curve_keys_t *keys = cfg->insecure ? NULL : &cfg->keys;
    const char *server = cfg->insecure ? NULL : cfg->server_public;
    void *zctx = zmq_ctx_new(), **socks;
    int64_t start = now_mono_ms(), next_ask = start;
    char last[2048] = "";
    uint64_t seq = 0;
    int rc = GATE_WAIT_TIMEOUT;
    bool answered = false;

    if (zctx == NULL) {
        fprintf(stderr, "convoy-agent gate wait: cannot create a ZeroMQ context\n");
        return GATE_WAIT_ERROR;
    }
    socks = xcalloc(cfg->n_coordinators, sizeof(*socks));
    for (size_t i = 0; i < cfg->n_coordinators; i++) {
        char *err = NULL;
        /* no routing id: the node's own agent keeps its route at the coordinator */
        socks[i] = transport_connect_dealer(zctx, cfg->coordinators[i], NULL, keys, server, &err);
        if (socks[i] == NULL) {
            fprintf(stderr, "convoy-agent gate wait: coordinator %s: %s\n", cfg->coordinators[i],
                    err);
            free(err);
        }
    }
    for (;;) {
        int64_t now = now_mono_ms(), wait;
        zmq_pollitem_t items[16];
        size_t n = 0;

        if (timeout_ms >= 0 && now - start >= timeout_ms)
            break;
        if (now >= next_ask) {
            for (size_t i = 0; i < cfg->n_coordinators; i++) {
                wire_msg_t m;
                Convoy__Wire__GateQuery q = CONVOY__WIRE__GATE_QUERY__INIT;
                if (socks[i] == NULL)
                    continue;
                wire_init(&m, CONVOY__WIRE__MSG_TYPE__GATE_QUERY, cfg->node, ++seq, NULL);
                q.version = (char *)version;
                m.gate_query = &q;
                transport_send(socks[i], NULL, 0, &m);
            }
            next_ask = now + (answered ? ASK_EVERY_MS : ASK_FIRST_MS);
        }
        for (size_t i = 0; i < cfg->n_coordinators && n < 16; i++)
            if (socks[i])
                items[n++] = (zmq_pollitem_t){socks[i], 0, ZMQ_POLLIN, 0};
        wait = next_ask - now;
        if (timeout_ms >= 0 && start + timeout_ms - now < wait)
            wait = start + timeout_ms - now;
        if (zmq_poll(items, (int)n, (long)(wait > 0 ? wait : 0)) < 0)
            break;
        for (size_t i = 0; i < n; i++) {
            transport_frame_t f;
            if (!(items[i].revents & ZMQ_POLLIN))
                continue;
            while (transport_recv(items[i].socket, false, &f)) {
                wire_msg_t *m = NULL;
                char err[160];
                if (wire_decode(f.data, f.len, &m, err, sizeof(err)) == WIRE_OK &&
                    m->type == CONVOY__WIRE__MSG_TYPE__GATE_STATE) {
                    const Convoy__Wire__GateState *g = m->gate_state;
                    answered = true;
                    if (strcmp(g->state, "open") == 0) {
                        if (g->migrations == 0)
                            printf("open: no migration of this cluster is for app version %s; "
                                   "nothing to wait for\n",
                                   version);
                        else
                            printf("open: app version %s may start on node %s (%u migration%s "
                                   "ready)\n",
                                   version, cfg->node, g->migrations,
                                   g->migrations == 1 ? "" : "s");
                        rc = GATE_WAIT_OPEN;
                    } else if (strcmp(g->state, "failed") == 0) {
                        say_reasons(g, last, sizeof(last));
                        printf("failed: app version %s must not start\n", version);
                        rc = GATE_WAIT_FAILED;
                    } else {
                        say_reasons(g, last, sizeof(last));
                    }
                } else if (m && m->type == CONVOY__WIRE__MSG_TYPE__ERROR && m->error) {
                    fprintf(stderr, "convoy-agent gate wait: the coordinator refused: %s\n",
                            m->error->message ? m->error->message : "?");
                }
                wire_free(m);
                transport_frame_clear(&f);
                if (rc != GATE_WAIT_TIMEOUT)
                    goto out;
            }
        }
    }
    if (!answered)
        fprintf(stderr,
                "convoy-agent gate wait: no coordinator answered in %lld ms (%zu configured); "
                "not open\n",
                (long long)timeout_ms, cfg->n_coordinators);
    else
        printf("timeout: app version %s is still held after %lld ms\n", version,
               (long long)timeout_ms);
out:
    for (size_t i = 0; i < cfg->n_coordinators; i++)
        if (socks[i])
            zmq_close(socks[i]);
    free(socks);
    zmq_ctx_term(zctx);
    return rc;
}
