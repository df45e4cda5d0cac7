/*
 * window.h: maintenance windows, pure. A window is a set of week days, a start and an end
 * time of day, and a fixed UTC offset: "Sat 02:00-04:00 UTC", "Mon-Fri 22:30-01:00 +02:00",
 * "Sat,Sun 00:00-06:00 UTC-05:00", "daily 01:00-03:00 UTC". An end at or before the start
 * crosses midnight (the window belongs to the day it opens on). No clock is read here: every
 * function takes the time (seconds since the Unix epoch) from its caller.
 */
#ifndef CONVOY_WINDOW_H
#define CONVOY_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    unsigned days;  /* bit d: the window opens on week day d (0 Sunday .. 6 Saturday) */
    int start_min;  /* minutes after local midnight, 0..1439 */
    int length_min; /* 1..1440 */
    int offset_min; /* local time = UTC + offset, -14:00..+14:00 */
} window_t;

/* Parses spec; false with a message (what was wrong and the expected form) in err. */
bool window_parse(const char *spec, window_t *out, char *err, size_t err_len);

/* True when `now` lies inside one of the window's openings. */
bool window_contains(const window_t *w, int64_t now);

/* When the window next opens at or after `now` (now itself when it is open now: use
 * window_contains first); when the current opening closes (only meaningful inside). */
int64_t window_next_open(const window_t *w, int64_t now);
int64_t window_close_after(const window_t *w, int64_t now);

/* "Sat 2026-12-05 02:00 UTC" or "... +02:00", the time in the window's own offset. */
void window_format_time(const window_t *w, int64_t t, char *buf, size_t len);

/* Parses "2026-12-05T02:00:00Z", "2026-12-05T02:00:00+02:00", "2026-12-05 02:00" (UTC);
 * false on anything else. */
bool window_parse_iso8601(const char *s, int64_t *out);

#endif
