/* codec.c: frames <-> wire messages (see include/convoy/wire.h). Pure: no I/O. */
#include "convoy/wire.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const status_names[] = {"ok",        "empty",       "too_large",
                                           "malformed", "bad_version", "unknown_type"};

const char *
wire_status_name(wire_status_t s)
{
    return (size_t)s < sizeof(status_names) / sizeof(status_names[0]) ? status_names[s] : "unknown";
}

uint32_t
wire_status_error_code(wire_status_t s)
{
    switch (s) {
    case WIRE_OK:
        return CONVOY__WIRE__WIRE_ERROR__E_NONE;
    case WIRE_TOO_LARGE:
        return CONVOY__WIRE__WIRE_ERROR__E_TOO_LARGE;
    case WIRE_BAD_VERSION:
        return CONVOY__WIRE__WIRE_ERROR__E_BAD_VERSION;
    case WIRE_UNKNOWN_TYPE:
        return CONVOY__WIRE__WIRE_ERROR__E_UNKNOWN_TYPE;
    default:
        return CONVOY__WIRE__WIRE_ERROR__E_MALFORMED;
    }
}

/* The message types this version knows, and whether each one's body is present. */
typedef struct {
    uint32_t type;
    const char *name;
    bool (*has_body)(const wire_msg_t *m);
} type_spec_t;

#define BODY(field)                                                                                \
    static bool has_##field(const wire_msg_t *m)                                                   \
    {                                                                                              \
        return m->field != NULL;                                                                   \
    }
BODY(hello)
BODY(welcome)
BODY(report)
BODY(command)
BODY(result)
BODY(error)
BODY(gate_query)
BODY(gate_state)
#undef BODY
/* HEARTBEAT and ACK carry only optional fields: an empty body is valid. */
static bool
always(const wire_msg_t *m)
{
    (void)m;
    return true;
}

static const type_spec_t types[] = {
    {CONVOY__WIRE__MSG_TYPE__HELLO, "HELLO", has_hello},
    {CONVOY__WIRE__MSG_TYPE__WELCOME, "WELCOME", has_welcome},
    {CONVOY__WIRE__MSG_TYPE__HEARTBEAT, "HEARTBEAT", always},
    {CONVOY__WIRE__MSG_TYPE__REPORT, "REPORT", has_report},
    {CONVOY__WIRE__MSG_TYPE__COMMAND, "COMMAND", has_command},
    {CONVOY__WIRE__MSG_TYPE__RESULT, "RESULT", has_result},
    {CONVOY__WIRE__MSG_TYPE__ACK, "ACK", always},
    {CONVOY__WIRE__MSG_TYPE__ERROR, "ERROR", has_error},
    {CONVOY__WIRE__MSG_TYPE__GATE_QUERY, "GATE_QUERY", has_gate_query},
    {CONVOY__WIRE__MSG_TYPE__GATE_STATE, "GATE_STATE", has_gate_state},
};

static const type_spec_t *
find_type(uint32_t type)
{
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (types[i].type == type)
            return &types[i];
    return NULL;
}

const char *
wire_type_name(uint32_t type)
{
    const type_spec_t *t = find_type(type);
    return t ? t->name : "UNKNOWN";
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

wire_status_t
wire_decode(const uint8_t *buf, size_t len, wire_msg_t **out, char *err, size_t errlen)
{
    wire_msg_t *m;
    const type_spec_t *t;

    *out = NULL;
    err &&errlen ? (void)(err[0] = '\0') : (void)0;
    if (len == 0) {
        set_err(err, errlen, "empty frame");
        return WIRE_EMPTY;
    }
    if (len > WIRE_MAX_FRAME) {
        set_err(err, errlen, "frame of %zu bytes is over the %d-byte limit", len, WIRE_MAX_FRAME);
        return WIRE_TOO_LARGE;
    }
    m = convoy__wire__envelope__unpack(NULL, len, buf);
    if (m == NULL) {
        set_err(err, errlen, "not a convoy wire envelope (%zu bytes)", len);
        return WIRE_MALFORMED;
    }
    if (m->major != WIRE_MAJOR) {
        set_err(err, errlen, "protocol major version %u, this side speaks %d", m->major,
                WIRE_MAJOR);
        *out = m;
        return WIRE_BAD_VERSION;
    }
    t = find_type(m->type);
    if (t == NULL) {
        set_err(err, errlen, "unknown message type %u", m->type);
        *out = m;
        return WIRE_UNKNOWN_TYPE;
    }
    if (!t->has_body(m)) {
        set_err(err, errlen, "%s message without its body", t->name);
        convoy__wire__envelope__free_unpacked(m, NULL);
        return WIRE_MALFORMED;
    }
    *out = m;
    return WIRE_OK;
}

void
wire_free(wire_msg_t *m)
{
    if (m)
        convoy__wire__envelope__free_unpacked(m, NULL);
}

void
wire_init(wire_msg_t *m, uint32_t type, const char *node, uint64_t seq, const char *migration)
{
    convoy__wire__envelope__init(m);
    m->major = WIRE_MAJOR;
    m->minor = WIRE_MINOR;
    m->type = type;
    m->node = (char *)(node ? node : "");
    m->seq = seq;
    m->migration = (char *)(migration ? migration : "");
}

uint8_t *
wire_encode(const wire_msg_t *m, size_t *len)
{
    size_t n = convoy__wire__envelope__get_packed_size(m);
    uint8_t *buf;

    *len = 0;
    if (n > WIRE_MAX_FRAME)
        return NULL;
    buf = malloc(n ? n : 1);
    if (buf == NULL)
        abort();
    *len = convoy__wire__envelope__pack(m, buf);
    return buf;
}

/* As PostgreSQL's pg_lsn_in: 1 to 8 hex digits, '/', 1 to 8 hex digits, nothing else.
 * (sscanf's %X took blanks, signs and "0x", and wrapped a ninth digit: "-1/2", "0/100000000".) */
bool
wire_lsn_parse(const char *text, uint64_t *out)
{
    static const char hex[] = "0123456789abcdefABCDEF";
    size_t hi_len, lo_len;

    if (text == NULL)
        return false;
    hi_len = strspn(text, hex);
    if (hi_len < 1 || hi_len > 8 || text[hi_len] != '/')
        return false;
    lo_len = strspn(text + hi_len + 1, hex);
    if (lo_len < 1 || lo_len > 8 || text[hi_len + 1 + lo_len] != '\0')
        return false;
    *out = (strtoull(text, NULL, 16) << 32) | strtoull(text + hi_len + 1, NULL, 16);
    return true;
}

void
wire_lsn_format(uint64_t lsn, char *buf, size_t len)
{
    snprintf(buf, len, "%X/%X", (unsigned int)(lsn >> 32), (unsigned int)lsn);
}
