/*
 * wire.h: the pure codec of the coordinator <-> agent protocol (proto/convoy.proto).
 *
 * Bytes in, message out: no sockets, no clocks, in the style of hiredis's reader. Every
 * frame is checked before it reaches a caller: its size, the protocol's major version,
 * the message type, and that the body the type announces is present. A frame from a newer
 * minor version decodes (unknown fields are ignored); a frame of an unknown type decodes
 * with WIRE_UNKNOWN_TYPE so the caller can answer it with an ERROR.
 */
#ifndef CONVOY_WIRE_H
#define CONVOY_WIRE_H

#include "convoy.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_MAJOR     1
#define WIRE_MINOR     1            /* 1: GATE_QUERY, GATE_STATE, Report.leaving */
#define WIRE_MAX_FRAME (256 * 1024) /* bytes: a larger frame is refused unread */

typedef Convoy__Wire__Envelope wire_msg_t;

typedef enum {
    WIRE_OK,
    WIRE_EMPTY,        /* zero bytes */
    WIRE_TOO_LARGE,    /* over WIRE_MAX_FRAME */
    WIRE_MALFORMED,    /* not a protobuf Envelope, or the body its type needs is missing */
    WIRE_BAD_VERSION,  /* another major version: *out is set so the caller can reply */
    WIRE_UNKNOWN_TYPE, /* a type this version does not know: *out is set */
} wire_status_t;

const char *wire_status_name(wire_status_t s);
/* The ERROR code (Convoy__Wire__WireError) that answers a decode status. */
uint32_t wire_status_error_code(wire_status_t s);
const char *wire_type_name(uint32_t type);

/*
 * Decodes one frame. On WIRE_OK, WIRE_BAD_VERSION and WIRE_UNKNOWN_TYPE, *out is a message
 * the caller frees with wire_free(); otherwise *out is NULL. err (may be NULL) gets a
 * one-line reason for people.
 */
wire_status_t
wire_decode(const uint8_t *buf, size_t len, wire_msg_t **out, char *err, size_t errlen);
void wire_free(wire_msg_t *m);

/* A message of `type` from `node`, with this version's major and minor. */
void wire_init(wire_msg_t *m, uint32_t type, const char *node, uint64_t seq, const char *migration);
/* Encodes into a newly allocated buffer (*len set); NULL when it would exceed the limit. */
uint8_t *wire_encode(const wire_msg_t *m, size_t *len);

/* LSNs travel as integers; "16/B374D848" <-> 0x16B374D848. False on a malformed text. */
bool wire_lsn_parse(const char *text, uint64_t *out);
void wire_lsn_format(uint64_t lsn, char *buf, size_t len);

#endif
