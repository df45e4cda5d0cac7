/* util.c: allocation wrappers, string buffers, strict parsing, clocks and quoting. */
#include "convoy/util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
oom(size_t n)
{
    fprintf(stderr, "convoy: out of memory allocating %zu bytes\n", n);
    abort();
}

void *
xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        oom(n);
    return p;
}

void *
xcalloc(size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (p == NULL)
        oom(count * n);
    return p;
}

void *
xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        oom(n);
    return q;
}

char *
xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *
xasprintf(const char *fmt, ...)
{
    sb_t sb;
    va_list ap;

    sb_init(&sb);
    va_start(ap, fmt);
    sb_vprintf(&sb, fmt, ap);
    va_end(ap);
    return sb_steal(&sb);
}

void
sb_init(sb_t *sb)
{
    sb->cap = 64;
    sb->len = 0;
    sb->data = xmalloc(sb->cap);
    sb->data[0] = '\0';
}

void
sb_free(sb_t *sb)
{
    free(sb->data);
    sb->data = NULL;
    sb->len = sb->cap = 0;
}

static void
sb_reserve(sb_t *sb, size_t extra)
{
    if (sb->len + extra + 1 <= sb->cap)
        return;
    while (sb->len + extra + 1 > sb->cap)
        sb->cap *= 2;
    sb->data = xrealloc(sb->data, sb->cap);
}

void
sb_putn(sb_t *sb, const char *s, size_t n)
{
    sb_reserve(sb, n);
    memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

void
sb_puts(sb_t *sb, const char *s)
{
    sb_putn(sb, s, strlen(s));
}

void
sb_putc(sb_t *sb, char c)
{
    sb_putn(sb, &c, 1);
}

void
sb_vprintf(sb_t *sb, const char *fmt, va_list ap)
{
    va_list copy;
    int n;

    va_copy(copy, ap);
    n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0)
        return;
    sb_reserve(sb, (size_t)n);
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    sb->len += (size_t)n;
}

void
sb_printf(sb_t *sb, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    sb_vprintf(sb, fmt, ap);
    va_end(ap);
}

char *
sb_steal(sb_t *sb)
{
    char *p = sb->data;
    sb->data = NULL;
    sb->len = sb->cap = 0;
    return p;
}

void
strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

bool
parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end = NULL;
    long long v;

    if (s == NULL || !(isdigit((unsigned char)*s) || (*s == '-' && isdigit((unsigned char)s[1]))))
        return false;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return false;
    *out = (int64_t)v;
    return true;
}

bool
parse_duration_ms(const char *s, int64_t *out_ms)
{
    static const struct {
        const char *suffix;
        int64_t factor;
    } units[] = {{"ms", 1},      {"s", 1000},    {"sec", 1000}, {"m", 60000},
                 {"min", 60000}, {"h", 3600000}, {"", 1}};
    double v = 0, scale = 1;
    bool digits = false;
    const char *p;

    if (s == NULL)
        return false;
    p = s;
    while (*p == ' ' || *p == '\t')
        p++;
    /* plain decimal only: no sign, hex, exponent, inf or nan */
    for (; isdigit((unsigned char)*p); p++, digits = true)
        v = v * 10 + (*p - '0');
    if (*p == '.') {
        for (p++; isdigit((unsigned char)*p); p++, digits = true) {
            scale /= 10;
            v += (*p - '0') * scale;
        }
    }
    if (!digits || v > 1e15)
        return false;
    while (*p == ' ')
        p++;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        size_t n = strlen(units[i].suffix);
        const char *rest = p + n;
        if (strncmp(p, units[i].suffix, n) != 0)
            continue;
        while (*rest == ' ' || *rest == '\t')
            rest++;
        if (*rest != '\0')
            continue;
        *out_ms = (int64_t)llround(v * (double)units[i].factor);
        return true;
    }
    return false;
}

void
format_duration(int64_t ms, char *buf, size_t len)
{
    if (ms < 0)
        snprintf(buf, len, "unknown");
    else if (ms < 1000)
        snprintf(buf, len, "%lld ms", (long long)ms);
    else if (ms < 59950)
        snprintf(buf, len, "%.1f s", (double)ms / 1000.0);
    else if (ms < 3600000)
        snprintf(buf, len, "%lld min %lld s", (long long)(ms / 60000),
                 (long long)((ms % 60000) / 1000));
    else
        snprintf(buf, len, "%lld h %lld min", (long long)(ms / 3600000),
                 (long long)((ms % 3600000) / 60000));
}

int64_t
now_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
now_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *
read_file(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    sb_t sb;
    char chunk[8192];
    size_t n;

    if (f == NULL)
        return NULL;
    sb_init(&sb);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        sb_putn(&sb, chunk, n);
    if (ferror(f)) {
        int saved = errno;
        fclose(f);
        sb_free(&sb);
        errno = saved;
        return NULL;
    }
    fclose(f);
    if (len_out)
        *len_out = sb.len;
    return sb_steal(&sb);
}

void
sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char hash[crypto_hash_sha256_BYTES];

    crypto_hash_sha256(hash, data, len);
    sodium_bin2hex(out, 65, hash, sizeof(hash));
}

char *
text_excerpt(const char *s, size_t len, size_t max, char *buf, size_t buf_len)
{
    size_t o = 0;

    for (size_t i = 0; s && i < len && o + 5 < buf_len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (o >= max) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (ch >= 0x20 && ch < 0x7f)
            buf[o++] = (char)ch;
        else
            o += (size_t)snprintf(buf + o, buf_len - o, "\\x%02x", ch);
    }
    buf[o] = '\0';
    return buf;
}

uint64_t
read_be(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t v = 0;

    for (size_t i = 0; i < n; i++)
        v = v << 8 | b[i];
    return v;
}
