/*
 * health.h: role = app, the application's error rate (docs/fleet.md, "Application health").
 *
 * The app keeps its total error count in a file (error_counter_file: one non-negative
 * integer, rewritten by the app). Every heartbeat the agent reads it (health_read_counter)
 * and pushes the count with the monotonic time into a rate_t; rate_value is the errors per
 * second from the oldest sample within the window to the newest. The rate functions are
 * pure (no clock, no I/O): the caller passes the time, so tests can drive them.
 */
#ifndef CONVOY_AGENT_HEALTH_H
#define CONVOY_AGENT_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RATE_WINDOW_MS   1000 /* the rate is over about the last second... */
#define RATE_MAX_SAMPLES 128  /* ...at most this many samples (10 ms heartbeats: 101) */
#define RATE_UNKNOWN     (-1.0)
#define COUNTER_MAX_TEXT 64 /* a counter file holds at most this many bytes */

typedef struct {
    int64_t t_ms;   /* monotonic */
    uint64_t count; /* the app's total error count then */
} rate_sample_t;

/* A ring of samples, oldest first. Zero it (or rate_reset) before use. */
typedef struct {
    rate_sample_t s[RATE_MAX_SAMPLES];
    size_t head; /* the oldest */
    size_t n;
} rate_t;

typedef enum {
    RATE_PUSHED,   /* a new sample */
    RATE_REPLACED, /* the same millisecond as the newest: its count replaced */
    RATE_RESET,    /* the count went down (the app restarted) or the clock went back: the
                    * window holds only this sample, so the rate is unknown until the next */
} rate_push_t;

/* Forgets every sample (an unreadable counter, a new counter file). */
void rate_reset(rate_t *r);
/* Adds the count read at now_ms. A full ring drops its oldest sample. */
rate_push_t rate_push(rate_t *r, int64_t now_ms, uint64_t count);
/*
 * Errors per second from the oldest sample at or after now_ms - window_ms to the newest;
 * RATE_UNKNOWN with fewer than two samples in the window (or none newer than now_ms -
 * window_ms).
 */
double rate_value(const rate_t *r, int64_t now_ms, int64_t window_ms);
/* The window for a heartbeat: RATE_WINDOW_MS, or 1.5 heartbeats when they are longer, so a
 * slow heartbeat still has two samples in it. */
int64_t rate_window_ms(int64_t heartbeat_ms);

/*
 * The counter file's text as a count: optional blanks (space, tab, CR, LF) around 1 to 20
 * digits, at most UINT64_MAX. False on anything else (empty, a sign, a fraction, two
 * numbers, a NUL).
 */
bool counter_parse(const char *text, size_t len, uint64_t *out);

/*
 * Reads path once: open (non-blocking, so a FIFO cannot hang the loop), fstat, one read of at
 * most COUNTER_MAX_TEXT bytes, close. True with *out the count; false with why (one line, for
 * the log: "cannot open PATH: No such file or directory", "PATH is not a regular file",
 * "PATH does not hold one non-negative integer (`abc`)", ...).
 */
bool health_read_counter(const char *path, uint64_t *out, char *why, size_t why_len);

#endif
