/*
 * cache.h: the Redis side of role = cache (hiredis, blocking, every call bounded by a
 * timeout).
 *
 * Commands are pipelined: the cache_append_* functions only queue a command (binary-safe:
 * argv, or length-prefixed RESP from keybatch_resp, never a printf-formatted string) under a
 * caller's slot; cache_send may push what is queued to the socket early, so Redis works while
 * the caller prepares more; cache_flush sends the rest and reads every reply in order.
 * UNLINK takes at most CACHE_UNLINK_MAX keys a command. Never KEYS, never DEL.
 *
 * The connection's health is a small state machine: a Redis error (cache_failed) drops the
 * connection and schedules the next attempt after a backoff of 100 ms doubling to 5 s;
 * cache_succeeded (after work went through) resets the backoff. The down and up transitions
 * are logged once each. The password is sent with AUTH and never logged.
 */
#ifndef CONVOY_AGENT_CACHE_H
#define CONVOY_AGENT_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CACHE_UNLINK_MAX   1000 /* keys per UNLINK command */
#define CACHE_SCAN_COUNT   "1000"
#define CACHE_TIMEOUT_MS   2000 /* connect, and each reply */
#define CACHE_BACKOFF_MIN  100
#define CACHE_BACKOFF_MAX  5000
#define CACHE_MAX_ERROR    240 /* bytes of a Redis error kept for redis_error and last_error */
#define CACHE_CURSOR_BYTES 32
#define CACHE_RESP_KEEP    (4u << 20) /* a RESP buffer larger than this is not kept */

typedef struct cache cache_t;

typedef enum {
    CACHE_OK,
    CACHE_REPLY_ERROR, /* Redis answered with an error reply; the connection is fine */
    CACHE_CONN_ERROR,  /* the connection failed (or the reply made no sense): call cache_failed */
} cache_status_t;

/*
 * url is for log lines (redis://HOST:PORT[/DB], it holds no password); host, port and db
 * are what to connect to; password may be NULL. Nothing connects before cache_connect.
 */
cache_t *cache_new(const char *url, const char *host, int port, int db, const char *password);
void cache_free(cache_t *c);
/* A new target or password (reload): the connection is closed; the next cache_connect
 * uses them at once. */
void cache_set_target(
    cache_t *c, const char *url, const char *host, int port, int db, const char *password);

bool cache_connected(const cache_t *c);
/* redis_ok: connected, and nothing failed since the last success */
bool cache_ok(const cache_t *c);
/* redis_error: "" while ok, else the last error (one line, no password) */
const char *cache_error(const cache_t *c);
/* When the next connection attempt may be made (monotonic ms). */
int64_t cache_retry_at(const cache_t *c);
/* Time of the last command that went through (monotonic ms, 0 never). */
int64_t cache_last_ok(const cache_t *c);

/* Connects (with AUTH and SELECT) unless connected or inside the backoff; true when
 * connected. A failure goes through cache_failed. */
bool cache_connect(cache_t *c, int64_t now);
/*
 * A Redis error: drops the connection, redis_ok = false, the next attempt after the backoff
 * (which doubles). reply false: the connection failed (logged once, as Redis down; the next
 * successful connect logs it up again). reply true: an error reply to outbox work (logged
 * once per distinct error); redis_ok stays false until cache_succeeded.
 */
void cache_failed(cache_t *c, const char *err, bool reply, int64_t now);
/* Work went through (a batch, or a PING with nothing to do): redis_ok, the backoff back to
 * CACHE_BACKOFF_MIN. */
void cache_succeeded(cache_t *c, int64_t now);

/* Queues UNLINK commands for n keys, at most CACHE_UNLINK_MAX each; their integer replies
 * (the keys removed) add up in slot. */
void cache_append_unlink(cache_t *c, size_t slot, char *const *keys, const size_t *lens, size_t n);
/* Queues INCR key; each success counts 1 in slot. */
void cache_append_incr(cache_t *c, size_t slot, const char *key, size_t len);
/* Queues PING (counts nothing). */
void cache_append_ping(cache_t *c, size_t slot);
/* Commands queued and not flushed yet. */
size_t cache_queued(const cache_t *c);
/* Writes what is queued to the socket now (replies are still read by cache_flush); a write
 * error is kept for cache_flush to report. */
void cache_send(cache_t *c);

/*
 * Sends every queued command and reads every reply in order. Integer replies add to
 * sums[slot]; the first error reply of a slot is stored in errs[slot] (one line, the caller
 * frees; errs may be NULL). CACHE_REPLY_ERROR when any reply was an error; CACHE_CONN_ERROR
 * with *err (the caller frees) when the connection failed: call cache_failed then.
 */
cache_status_t cache_flush(cache_t *c, long long *sums, char **errs, size_t n_slots, char **err);

/*
 * One `SCAN cursor MATCH pattern COUNT 1000`, then UNLINK (pipelined) of the keys it
 * returned. cursor is decimal text in and out ("0" starts; "0" back means the scan is done).
 * *matched gets the keys SCAN returned, *removed the keys UNLINK removed. On an error, *err
 * (the caller frees) says what failed.
 */
cache_status_t cache_scan_unlink(cache_t *c,
                                 char cursor[CACHE_CURSOR_BYTES],
                                 const char *pattern,
                                 size_t pattern_len,
                                 long long *matched,
                                 long long *removed,
                                 char **err);

#endif
