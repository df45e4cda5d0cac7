/*
 * transport.h: the ZeroMQ side of the wire protocol: CURVE key files, the ZAP handler
 * that admits only listed agent keys, the coordinator's ROUTER and the agents' DEALERs,
 * and framed send/receive of wire messages.
 *
 * CURVE is the default. insecure (NULL keys) is only for an explicit --insecure; callers
 * say so in every status line. A frame over WIRE_MAX_FRAME is refused by libzmq itself
 * (ZMQ_MAXMSGSIZE disconnects the peer) before the codec sees it.
 */
#ifndef CONVOY_TRANSPORT_H
#define CONVOY_TRANSPORT_H

#include "convoy/wire.h"

#include <stdbool.h>
#include <stddef.h>

#define CURVE_KEY_Z85 41 /* 40 characters and a NUL */

typedef struct {
    char public_z85[CURVE_KEY_Z85];
    char secret_z85[CURVE_KEY_Z85];
} curve_keys_t;

/* Writes PREFIX.key (public and secret, mode 0600) and PREFIX.pub (public, 0644). */
bool keys_generate_files(const char *prefix, curve_keys_t *out, char **err);
/* Reads a .key file written by keys_generate_files. */
bool keys_load(const char *path, curve_keys_t *out, char **err);
/* A public key: 40 Z85 characters, or the path of a .pub/.key file holding one. */
bool keys_read_public(const char *value_or_path, char out[CURVE_KEY_Z85], char **err);

/* Who may connect: a CURVE public key and the node name it authenticates as. */
typedef struct {
    char key[CURVE_KEY_Z85];
    char name[64];
} zap_entry_t;

typedef void (*transport_log_fn)(void *ud, const char *line);

typedef struct {
    void *sock; /* REP on inproc://zeromq.zap.01 */
    const zap_entry_t *allow;
    size_t n_allow;
    transport_log_fn log; /* each rejection is logged with the key */
    void *ud;
    unsigned long rejected;
} zap_t;

/* Binds the ZAP handler in zctx. Poll z->sock for ZMQ_POLLIN and call zap_handle. */
bool zap_open(zap_t *z, void *zctx, char **err);
void zap_handle(zap_t *z);
void zap_close(zap_t *z);

/* The coordinator's socket. keys NULL: plain text (insecure). */
void *transport_bind_router(void *zctx, const char *endpoint, const curve_keys_t *keys, char **err);
/* An agent's socket to one coordinator; reconnects by itself with backoff. */
void *transport_connect_dealer(void *zctx,
                               const char *endpoint,
                               const char *identity,
                               const curve_keys_t *keys,
                               const char *server_public,
                               char **err);

typedef struct {
    char identity[256]; /* ROUTER only: the peer's routing id */
    size_t identity_len;
    char user_id[64]; /* the node name ZAP authenticated ("" when insecure) */
    uint8_t *data;    /* the payload (owned; transport_frame_clear frees it) */
    size_t len;
} transport_frame_t;

/* Sends m (ROUTER: to identity). Never blocks; false when it could not be queued. */
bool transport_send(void *sock, const char *identity, size_t identity_len, const wire_msg_t *m);
/* Sends raw bytes (tests and the bad-peer tool). */
bool transport_send_raw(
    void *sock, const char *identity, size_t identity_len, const void *data, size_t len);
/* Receives one message if one is waiting (never blocks). router: expect an identity frame. */
bool transport_recv(void *sock, bool router, transport_frame_t *f);
void transport_frame_clear(transport_frame_t *f);

#endif
