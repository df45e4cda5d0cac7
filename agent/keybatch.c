/*
 * keybatch.c: PostgreSQL's text[] output split in place, and RESP written over the keys
 * (see keybatch.h).
 */
#include "keybatch.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void
push_key(char ***keys, size_t **lens, size_t *n, size_t *cap, char *s, size_t len)
{
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        *keys = xrealloc(*keys, *cap * sizeof(**keys));
        *lens = xrealloc(*lens, *cap * sizeof(**lens));
    }
    (*keys)[*n] = s;
    (*lens)[*n] = len;
    (*n)++;
}

/*
 * One left-to-right pass. A quoted element is unescaped towards its own start (the output
 * never overtakes the input), and ends with a NUL where its closing quote was or earlier. An
 * unquoted element is ended by overwriting its delimiter, which is kept in `pending` and
 * read from there instead of from the buffer.
 */
bool
keybatch_split(char *s, char ***keys_out, size_t **lens_out, size_t *n_out)
{
    char **keys = NULL;
    size_t *lens = NULL, n = 0, cap = 0;
    char *p = s, pending = '\0';
    int depth = 0;
    bool closed = false;

    *keys_out = NULL;
    *lens_out = NULL;
    *n_out = 0;
    if (*p == '[') { /* dimensions other than the default: "[0:2]={a,b,c}" */
        p = strchr(p, '=');
        if (p == NULL)
            return false;
        p++;
    }
    if (*p != '{')
        return false;
    while ((pending || *p) && !closed) {
        char ch = pending ? pending : *p;

        pending = '\0';
        if (ch == '{') {
            depth++;
            p++;
        } else if (ch == '}') {
            depth--;
            p++;
            closed = depth == 0;
        } else if (ch == ',' && depth > 0) {
            p++;
        } else if (ch == '"' && depth > 0) {
            char *start = p, *w = p;
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1] != '\0')
                    p++;
                *w++ = *p;
            }
            if (*p != '"')
                break;
            p++;
            *w = '\0';
            push_key(&keys, &lens, &n, &cap, start, (size_t)(w - start));
        } else if (depth > 0) {
            char *start = p;
            size_t len;
            while (*p && *p != ',' && *p != '}' && *p != '{' && *p != '"')
                p++;
            if (*p == '{' || *p == '"' || *p == '\0')
                break;
            len = (size_t)(p - start);
            pending = *p;
            *p = '\0';
            if (!(len == 4 && strncasecmp(start, "NULL", 4) == 0))
                push_key(&keys, &lens, &n, &cap, start, len);
        } else {
            break;
        }
    }
    if (!closed || *p != '\0') {
        free(keys);
        free(lens);
        return false;
    }
    *keys_out = keys;
    *lens_out = lens;
    *n_out = n;
    return true;
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
