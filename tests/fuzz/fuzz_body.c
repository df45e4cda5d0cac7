/*
 * fuzz_body.c: one fuzz input through the wire codec. wire_decode must return a known
 * status with *out set exactly when the status says so, a reason for every refusal, and a
 * message that re-encodes (unless it grew past the limit), decodes again to the same status and
 * re-encodes to the same bytes. The input is also tried as LSN text: a parsed LSN must
 * format and parse back to itself. Everything allocated is freed (ASan checks leaks).
 */
#include "fuzz_body.h"

#include "convoy/wire.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool
has_msg(wire_status_t st)
{
    return st == WIRE_OK || st == WIRE_BAD_VERSION || st == WIRE_UNKNOWN_TYPE;
}

/* The invariants of one wire_decode call; on success *m is the message (or NULL). */
static const char *
decode_checked(const uint8_t *data, size_t size, wire_status_t *st, wire_msg_t **m)
{
    char err[160];

    memset(err, 'x', sizeof(err));
    *m = (wire_msg_t *)m; /* not NULL: wire_decode must set it */
    *st = wire_decode(data, size, m, err, sizeof(err));
    if (*st < WIRE_OK || *st > WIRE_UNKNOWN_TYPE)
        return "wire_decode returned an unknown status";
    if (memchr(err, '\0', sizeof(err)) == NULL)
        return "err is not NUL-terminated";
    if ((*st == WIRE_OK) != (err[0] == '\0'))
        return "err is empty on a refusal, or set on WIRE_OK";
    if ((*st == WIRE_EMPTY) != (size == 0))
        return "WIRE_EMPTY does not match a zero-byte frame";
    if ((*st == WIRE_TOO_LARGE) != (size > WIRE_MAX_FRAME))
        return "WIRE_TOO_LARGE does not match a frame over WIRE_MAX_FRAME";
    if (has_msg(*st) != (*m != NULL)) {
        if (*m != NULL && *m != (wire_msg_t *)m)
            wire_free(*m);
        *m = NULL;
        return "*out is not set exactly on OK, BAD_VERSION and UNKNOWN_TYPE";
    }
    if (*m == NULL)
        return NULL;
    if (*st == WIRE_OK && (*m)->major != WIRE_MAJOR)
        return "WIRE_OK with another major version";
    if (*st == WIRE_BAD_VERSION && (*m)->major == WIRE_MAJOR)
        return "WIRE_BAD_VERSION with this major version";
    if ((*st == WIRE_UNKNOWN_TYPE) != (strcmp(wire_type_name((*m)->type), "UNKNOWN") == 0) &&
        *st != WIRE_BAD_VERSION)
        return "WIRE_UNKNOWN_TYPE does not match wire_type_name";
    if (wire_status_name(*st) == NULL ||
        wire_status_error_code(*st) > CONVOY__WIRE__WIRE_ERROR__E_UNKNOWN_COMMAND)
        return "no name or ERROR code for a status";
    return NULL;
}

/*
 * protobuf-c 1.4.1 takes a field number 0 spelled as a multi-byte varint (0x80 0x00) for an
 * unknown field, and packs it back as the single byte 0x00, which it refuses. Such a
 * message decodes but need not survive re-encoding (nothing in convoy re-encodes a received
 * message; docs/fuzzing.md).
 */
static bool
has_field_zero(const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    const char *base = (const char *)msg;

    for (unsigned i = 0; i < msg->n_unknown_fields; i++)
        if (msg->unknown_fields[i].tag == 0)
            return true;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *)(base + f->offset);
            for (size_t j = 0; j < n; j++)
                if (has_field_zero(v[j]))
                    return true;
        } else {
            const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)(base + f->offset);
            if (sub != NULL && has_field_zero(sub))
                return true;
        }
    }
    return false;
}

static const char *
check_frame(const uint8_t *data, size_t size)
{
    wire_msg_t *m1 = NULL, *m2 = NULL;
    wire_status_t st1, st2;
    uint8_t *b1 = NULL, *b2 = NULL;
    size_t n1 = 0, n2 = 0;
    const char *why;

    why = decode_checked(data, size, &st1, &m1);
    if (why != NULL || m1 == NULL)
        return why;
    b1 = wire_encode(m1, &n1);
    if (b1 == NULL) {
        /* re-encoding can grow a frame (an int32 sent as a 5-byte varint is packed as 10):
         * only a message over the limit may be refused */
        if (convoy__wire__envelope__get_packed_size(m1) <= WIRE_MAX_FRAME)
            why = "a decoded message within the limit does not re-encode";
        goto out;
    }
    if (n1 == 0) {
        /* every field at its default (major 0: a BAD_VERSION frame) packs to nothing */
        if (st1 != WIRE_BAD_VERSION || m1->major != 0)
            why = "a message of this major version re-encodes to zero bytes";
        goto out;
    }
    if (has_field_zero(&m1->base))
        goto out;
    why = decode_checked(b1, n1, &st2, &m2);
    if (why != NULL)
        goto out;
    if (st2 != st1) {
        why = "a re-encoded message decodes to another status";
        goto out;
    }
    if (m2->major != m1->major || m2->minor != m1->minor || m2->type != m1->type ||
        m2->seq != m1->seq || strcmp(m2->node, m1->node) != 0 ||
        strcmp(m2->migration, m1->migration) != 0) {
        why = "a re-encoded message decodes to another envelope";
        goto out;
    }
    b2 = wire_encode(m2, &n2);
    if (b2 == NULL || n2 != n1 || memcmp(b1, b2, n1) != 0)
        why = "encoding a decoded message is not stable";
out:
    free(b2);
    free(b1);
    wire_free(m2);
    wire_free(m1);
    return why;
}

static const char *
check_lsn(const uint8_t *data, size_t size)
{
    char text[40], back[32];
    uint64_t lsn = 0, again = 0;

    if (size >= sizeof(text))
        return NULL;
    memcpy(text, data, size);
    text[size] = '\0';
    if (!wire_lsn_parse(text, &lsn))
        return NULL;
    if (strlen(text) > 17)
        return "an LSN text longer than FFFFFFFF/FFFFFFFF parsed";
    wire_lsn_format(lsn, back, sizeof(back));
    if (!wire_lsn_parse(back, &again) || again != lsn)
        return "a formatted LSN does not parse back to itself";
    return NULL;
}

const char *
fuzz_wire_one(const uint8_t *data, size_t size)
{
    const char *why = check_frame(data, size);
    return why ? why : check_lsn(data, size);
}
