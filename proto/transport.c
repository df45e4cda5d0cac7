/* transport.c: CURVE keys, the ZAP handler, ROUTER/DEALER sockets and framed messages. */
#include "convoy/transport.h"

#include "convoy/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

static bool
fail(char **err, char *msg)
{
    if (err)
        *err = msg;
    else
        free(msg);
    return false;
}

static bool
write_text(const char *path, mode_t mode, const char *text, char **err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    size_t n = strlen(text);

    if (fd < 0)
        return fail(err, xasprintf("%s: %s", path, strerror(errno)));
    if (fchmod(fd, mode) != 0 || write(fd, text, n) != (ssize_t)n) {
        int e = errno;
        close(fd);
        return fail(err, xasprintf("%s: %s", path, strerror(e)));
    }
    if (close(fd) != 0)
        return fail(err, xasprintf("%s: %s", path, strerror(errno)));
    return true;
}

bool
keys_generate_files(const char *prefix, curve_keys_t *out, char **err)
{
    char *path, *text;
    bool ok;

    if (zmq_curve_keypair(out->public_z85, out->secret_z85) != 0)
        return fail(err, xasprintf("cannot generate a CURVE key pair: %s (libzmq built without "
                                   "CURVE?)",
                                   zmq_strerror(zmq_errno())));
    path = xasprintf("%s.key", prefix);
    text = xasprintf("# convoy CURVE key pair: keep secret (mode 0600)\npublic = %s\nsecret = %s\n",
                     out->public_z85, out->secret_z85);
    ok = write_text(path, 0600, text, err);
    free(path);
    free(text);
    if (!ok)
        return false;
    path = xasprintf("%s.pub", prefix);
    text = xasprintf("# convoy CURVE public key\npublic = %s\n", out->public_z85);
    ok = write_text(path, 0644, text, err);
    free(path);
    free(text);
    return ok;
}

static bool
is_z85_key(const char *s)
{
    uint8_t bin[32];
    return s && strlen(s) == 40 && zmq_z85_decode(bin, s) != NULL;
}

/* Finds "NAME = VALUE" in a key file; copies a valid Z85 key. */
static bool
key_field(const char *text, const char *name, char out[CURVE_KEY_Z85])
{
    size_t nl = strlen(name);

    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        const char *q = p;
        while (*q == ' ' || *q == '\t')
            q++;
        if (strncmp(q, name, nl) != 0)
            continue;
        q += nl;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q++ != '=')
            continue;
        while (*q == ' ' || *q == '\t')
            q++;
        if (strspn(q, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/"
                      "*?&<>()[]{}@%$#") < 40)
            return false;
        memcpy(out, q, 40);
        out[40] = '\0';
        return is_z85_key(out);
    }
    return false;
}

bool
keys_load(const char *path, curve_keys_t *out, char **err)
{
    struct stat st;
    char *text;

    if (stat(path, &st) != 0)
        return fail(err, xasprintf("%s: %s", path, strerror(errno)));
    if ((st.st_mode & 077) != 0)
        return fail(err, xasprintf("%s: a secret key file must not be readable by others (mode "
                                   "%03o); run chmod 600 %s",
                                   path, (unsigned)(st.st_mode & 0777), path));
    text = read_file(path, NULL);
    if (text == NULL)
        return fail(err, xasprintf("%s: %s", path, strerror(errno)));
    if (!key_field(text, "public", out->public_z85) ||
        !key_field(text, "secret", out->secret_z85)) {
        free(text);
        return fail(err, xasprintf("%s: not a convoy key file (expected `public = …` and "
                                   "`secret = …`; write one with `convoy keygen`)",
                                   path));
    }
    free(text);
    return true;
}

bool
keys_read_public(const char *value_or_path, char out[CURVE_KEY_Z85], char **err)
{
    char *text;
    bool ok;

    if (is_z85_key(value_or_path)) {
        memcpy(out, value_or_path, CURVE_KEY_Z85);
        return true;
    }
    text = read_file(value_or_path, NULL);
    if (text == NULL)
        return fail(err, xasprintf("`%s` is neither a 40-character Z85 public key nor a readable "
                                   "key file (%s)",
                                   value_or_path, strerror(errno)));
    ok = key_field(text, "public", out);
    free(text);
    if (!ok)
        return fail(err, xasprintf("%s: no `public = …` key in it (write one with `convoy "
                                   "keygen`)",
                                   value_or_path));
    return true;
}

/* ---- ZAP (RFC 27) ---------------------------------------------------------------- */

bool
zap_open(zap_t *z, void *zctx, char **err)
{
    int linger = 0;

    z->sock = zmq_socket(zctx, ZMQ_REP);
    if (z->sock == NULL)
        return fail(err, xasprintf("ZAP socket: %s", zmq_strerror(zmq_errno())));
    zmq_setsockopt(z->sock, ZMQ_LINGER, &linger, sizeof(linger));
    if (zmq_bind(z->sock, "inproc://zeromq.zap.01") != 0) {
        char *m = xasprintf("ZAP bind: %s", zmq_strerror(zmq_errno()));
        zmq_close(z->sock);
        z->sock = NULL;
        return fail(err, m);
    }
    return true;
}

void
zap_close(zap_t *z)
{
    if (z->sock)
        zmq_close(z->sock);
    z->sock = NULL;
}

/* Reads the rest of a multipart message into frames; false when it is not 7 frames. */
static int
recv_parts(void *sock, zmq_msg_t *parts, int max)
{
    int n = 0, more = 1;
    size_t ms = sizeof(more);

    while (more) {
        zmq_msg_t tmp;
        zmq_msg_t *m = n < max ? &parts[n] : &tmp;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(m);
            break;
        }
        zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &ms);
        if (m == &tmp)
            zmq_msg_close(m);
        n++;
    }
    return n;
}

static void
send_str(void *sock, const char *s, size_t len, bool more)
{
    zmq_send(sock, s, len, more ? ZMQ_SNDMORE : 0);
}

void
zap_handle(zap_t *z)
{
    zmq_msg_t p[8];
    int n = recv_parts(z->sock, p, 8);
    int kept = n < 8 ? n : 8;
    const char *status = "400", *text = "unknown key", *user = "";
    char key[CURVE_KEY_Z85] = "";

    if (n <= 0)
        return;
    /* version, request id, domain, address, routing id, mechanism, credentials... */
    if (kept >= 6) {
        const char *mech = zmq_msg_data(&p[5]);
        size_t ml = zmq_msg_size(&p[5]);
        if (ml == 5 && memcmp(mech, "CURVE", 5) == 0 && kept >= 7 && zmq_msg_size(&p[6]) == 32) {
            zmq_z85_encode(key, zmq_msg_data(&p[6]), 32);
            for (size_t i = 0; i < z->n_allow; i++)
                if (strcmp(z->allow[i].key, key) == 0) {
                    status = "200";
                    text = "OK";
                    user = z->allow[i].name;
                    break;
                }
        } else {
            text = "mechanism not allowed";
        }
    }
    if (status[0] != '2') {
        z->rejected++;
        if (z->log) {
            char line[256];
            char addr[64] = "?";
            if (kept >= 4) {
                size_t al = zmq_msg_size(&p[3]);
                if (al >= sizeof(addr))
                    al = sizeof(addr) - 1;
                memcpy(addr, zmq_msg_data(&p[3]), al);
                addr[al] = '\0';
            }
            snprintf(line, sizeof(line), "rejected a connection from %s: %s%s%s", addr, text,
                     key[0] ? ": public key " : "", key);
            z->log(z->ud, line);
        }
    }
    /* reply: version, request id, status code, status text, user id, metadata */
    send_str(z->sock, "1.0", 3, true);
    if (kept >= 2)
        zmq_send(z->sock, zmq_msg_data(&p[1]), zmq_msg_size(&p[1]), ZMQ_SNDMORE);
    else
        send_str(z->sock, "", 0, true);
    send_str(z->sock, status, 3, true);
    send_str(z->sock, text, strlen(text), true);
    send_str(z->sock, user, strlen(user), true);
    send_str(z->sock, "", 0, false);
    for (int i = 0; i < kept; i++)
        zmq_msg_close(&p[i]);
}

/* ---- sockets --------------------------------------------------------------------- */

static void
common_opts(void *s)
{
    int linger = 0, hwm = 1000;
    int64_t max = WIRE_MAX_FRAME + 64;

    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof(max));
}

void *
transport_bind_router(void *zctx, const char *endpoint, const curve_keys_t *keys, char **err)
{
    void *s = zmq_socket(zctx, ZMQ_ROUTER);
    int one = 1;

    if (s == NULL) {
        fail(err, xasprintf("ROUTER socket: %s", zmq_strerror(zmq_errno())));
        return NULL;
    }
    common_opts(s);
    /* a reconnecting agent with the same routing id replaces its stale connection */
    zmq_setsockopt(s, ZMQ_ROUTER_HANDOVER, &one, sizeof(one));
    if (keys) {
        uint8_t sec[32];
        zmq_z85_decode(sec, keys->secret_z85);
        zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof(one));
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 32);
        zmq_setsockopt(s, ZMQ_ZAP_DOMAIN, "convoy", 6);
    }
    if (zmq_bind(s, endpoint) != 0) {
        fail(err, xasprintf("cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno())));
        zmq_close(s);
        return NULL;
    }
    return s;
}

void *
transport_connect_dealer(void *zctx,
                         const char *endpoint,
                         const char *identity,
                         const curve_keys_t *keys,
                         const char *server_public,
                         char **err)
{
    void *s = zmq_socket(zctx, ZMQ_DEALER);
    int ivl = 100, ivl_max = 5000, immediate = 1;

    if (s == NULL) {
        fail(err, xasprintf("DEALER socket: %s", zmq_strerror(zmq_errno())));
        return NULL;
    }
    common_opts(s);
    zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
    zmq_setsockopt(s, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max));
    /* queue nothing for a coordinator that is not connected: reports are current or useless */
    zmq_setsockopt(s, ZMQ_IMMEDIATE, &immediate, sizeof(immediate));
    if (identity)
        zmq_setsockopt(s, ZMQ_ROUTING_ID, identity, strlen(identity));
    if (keys) {
        uint8_t pub[32], sec[32], srv[32];
        zmq_z85_decode(pub, keys->public_z85);
        zmq_z85_decode(sec, keys->secret_z85);
        zmq_z85_decode(srv, server_public);
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, 32);
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 32);
        zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, srv, 32);
    }
    if (zmq_connect(s, endpoint) != 0) {
        fail(err, xasprintf("cannot connect to %s: %s", endpoint, zmq_strerror(zmq_errno())));
        zmq_close(s);
        return NULL;
    }
    return s;
}

bool
transport_send_raw(
    void *sock, const char *identity, size_t identity_len, const void *data, size_t len)
{
    if (identity && zmq_send(sock, identity, identity_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return false;
    return zmq_send(sock, data, len, ZMQ_DONTWAIT) >= 0;
}

bool
transport_send(void *sock, const char *identity, size_t identity_len, const wire_msg_t *m)
{
    size_t len;
    uint8_t *buf = wire_encode(m, &len);
    bool ok;

    if (buf == NULL)
        return false;
    ok = transport_send_raw(sock, identity, identity_len, buf, len);
    free(buf);
    return ok;
}

void
transport_frame_clear(transport_frame_t *f)
{
    free(f->data);
    memset(f, 0, sizeof(*f));
}

bool
transport_recv(void *sock, bool router, transport_frame_t *f)
{
    zmq_msg_t m;
    int more = 0;
    size_t ms = sizeof(more);
    bool got = false;

    memset(f, 0, sizeof(*f));
    for (int part = 0;; part++) {
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return got && f->data != NULL;
        }
        zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &ms);
        got = true;
        if (router && part == 0) {
            size_t n = zmq_msg_size(&m);
            f->identity_len = n < sizeof(f->identity) ? n : sizeof(f->identity);
            memcpy(f->identity, zmq_msg_data(&m), f->identity_len);
        } else if (f->data == NULL) {
            const char *uid = zmq_msg_gets(&m, "User-Id");
            f->len = zmq_msg_size(&m);
            f->data = xmalloc(f->len ? f->len : 1);
            memcpy(f->data, zmq_msg_data(&m), f->len);
            if (uid)
                snprintf(f->user_id, sizeof(f->user_id), "%s", uid);
        }
        /* further parts of a multipart message are not part of the protocol: dropped */
        zmq_msg_close(&m);
        if (!more)
            break;
    }
    if (f->data == NULL) { /* an identity with no payload */
        f->data = xmalloc(1);
        f->len = 0;
    }
    return true;
}
