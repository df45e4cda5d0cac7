/* util.h: allocation wrappers, a growable string buffer and strict number parsing. */
#ifndef CONVOY_UTIL_H
#define CONVOY_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Allocation failure aborts: callers never check for NULL. */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a newly allocated formatted string; the caller frees it. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable NUL-terminated string. sb_init/sb_free; data is owned by the sb. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
} sb_t;

void sb_init(sb_t *sb);
void sb_free(sb_t *sb);
void sb_putc(sb_t *sb, char c);
void sb_puts(sb_t *sb, const char *s);
void sb_putn(sb_t *sb, const char *s, size_t n);
void sb_printf(sb_t *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_vprintf(sb_t *sb, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Hands the buffer to the caller (who frees it) and resets the sb. */
char *sb_steal(sb_t *sb);

/* Frees n strings and the array; NULL-safe. */
void strv_free(char **v, size_t n);

/* Strict integer parse: whole string, base 10, within [min,max]. */
bool parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);

/*
 * Parses a duration such as "50ms", "2s", "1.5s", "3m" or "250" (milliseconds)
 * into milliseconds. Returns false on anything else.
 */
bool parse_duration_ms(const char *s, int64_t *out_ms);

/* Formats milliseconds for people: "35 ms", "4.2 s", "3 min 10 s", "2 h 5 min". */
void format_duration(int64_t ms, char *buf, size_t len);

/* Monotonic and wall clocks in milliseconds. */
int64_t now_mono_ms(void);
int64_t now_wall_ms(void);

/*
 * Text from outside (a peer, a file) made safe for a log line or a message: printable ASCII as
 * is, other bytes as \xNN, cut after about `max` bytes with "...". Returns buf.
 */
char *text_excerpt(const char *s, size_t len, size_t max, char *buf, size_t buf_len);

/* Reads a whole file; NULL with errno set on failure. Caller frees. */
char *read_file(const char *path, size_t *len_out);

/* Hex SHA-256 of a buffer, into out[65]. */
void sha256_hex(const void *data, size_t len, char out[65]);

/* The n-byte (n <= 8) big-endian unsigned integer at p: PostgreSQL's binary format. */
uint64_t read_be(const void *p, size_t n);

#endif
