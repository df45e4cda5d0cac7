/*
 * keybatch.c: PostgreSQL's binary text[] cut into keys, and RESP written over them (see
 * keybatch.h).
 */
#include "keybatch.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_OID  25 /* pg_type.oid of text */
#define MAX_NDIM  6  /* PostgreSQL's MAXDIM */
#define HEAD_SIZE 12 /* ndim, flags, element type */

/* A 32-bit word of the binary format at p. */
static uint32_t
be32(const unsigned char *p)
{
    return (uint32_t)read_be(p, 4);
}

/*
 * array_send's layout: ndim, a has-nulls flag and the element type; per dimension its size
 * and lower bound; then every element as a length (-1: NULL) and its bytes, in storage
 * order, which flattens any number of dimensions.
 */
bool
keybatch_from_binary(
    const char *v, size_t len, char **buf_out, char ***keys_out, size_t **lens_out, size_t *n_out)
{
    const unsigned char *p = (const unsigned char *)v, *end = p + len;
    uint32_t ndim;
    size_t items, n = 0;
    char *buf, *w, **keys;
    size_t *lens;

    *buf_out = NULL;
    *keys_out = NULL;
    *lens_out = NULL;
    *n_out = 0;
    if (len < HEAD_SIZE || (ndim = be32(p)) > MAX_NDIM || be32(p + 4) > 1 ||
        be32(p + 8) != TEXT_OID || len - HEAD_SIZE < 8 * (size_t)ndim)
        return false;
    p += HEAD_SIZE;
    items = ndim ? 1 : 0;
    for (uint32_t d = 0; d < ndim; d++, p += 8) { /* 4 bytes per element at least: no overflow */
        uint32_t size = be32(p);
        if (size && items > len / 4 / size)
            return false;
        items *= size;
    }
    if (items > (size_t)(end - p) / 4)
        return false;
    buf = w = xmalloc(len + 1); /* each key + NUL fits in its length word + bytes */
    keys = xmalloc((items + 1) * sizeof(*keys));
    lens = xmalloc((items + 1) * sizeof(*lens));
    for (size_t i = 0; i < items; i++) {
        uint32_t l;
        if (end - p < 4)
            goto bad;
        l = be32(p);
        p += 4;
        if (l == UINT32_MAX) /* NULL */
            continue;
        if (l > (size_t)(end - p))
            goto bad;
        memcpy(w, p, l);
        keys[n] = w;
        lens[n++] = l;
        w += l;
        *w++ = '\0';
        p += l;
    }
    if (p != end)
        goto bad;
    *buf_out = buf;
    *keys_out = keys;
    *lens_out = lens;
    *n_out = n;
    return true;
bad:
    free(buf);
    free(keys);
    free(lens);
    return false;
}

/* "<prefix><n>\r\n" without printf: this runs once per key */
static void
put_count(sb_t *out, char prefix, size_t v)
{
    char buf[24];
    size_t i = sizeof(buf);

    buf[--i] = '\n';
    buf[--i] = '\r';
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    buf[--i] = prefix;
    sb_putn(out, buf + i, sizeof(buf) - i);
}

static void
put_bulk(sb_t *out, const char *s, size_t len)
{
    put_count(out, '$', len);
    sb_putn(out, s, len);
    sb_putn(out, "\r\n", 2);
}

void
keybatch_resp(
    sb_t *out, const char *name, size_t name_len, char *const *args, const size_t *lens, size_t n)
{
    put_count(out, '*', n + 1);
    put_bulk(out, name, name_len);
    for (size_t i = 0; i < n; i++)
        put_bulk(out, args[i], lens[i]);
}
