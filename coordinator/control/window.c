/* window.c: maintenance windows: parse "Sat 02:00-04:00 UTC", is it open, when it opens. */
#include "convoy/window.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define DAY_S  86400LL
#define WEEK_S (7 * DAY_S)

static const char *const day_names[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

static int
day_index(const char *s, size_t n)
{
    static const char *const long_names[7] = {"sunday",   "monday", "tuesday", "wednesday",
                                              "thursday", "friday", "saturday"};
    for (int d = 0; d < 7; d++)
        if ((n == 3 && strncasecmp(s, day_names[d], 3) == 0) ||
            (n == strlen(long_names[d]) && strncasecmp(s, long_names[d], n) == 0))
            return d;
    return -1;
}

/* "HH:MM" at *p (advanced); false when malformed. 24:00 only when allow_24. */
static bool
parse_hhmm(const char **p, bool allow_24, int *out)
{
    const char *s = *p;
    int h, m;

    if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || s[2] != ':' ||
        !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
        return false;
    h = (s[0] - '0') * 10 + (s[1] - '0');
    m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && (m != 0 || !allow_24)))
        return false;
    *out = h * 60 + m;
    *p = s + 5;
    return true;
}

/* "UTC", "Z", "UTC+02:00", "+02:00", "-0500", "UTC-5"; false when malformed. */
static bool
parse_offset(const char *s, int *out)
{
    int sign, h = 0, m = 0, nd = 0;

    if (strncasecmp(s, "UTC", 3) == 0 || strncasecmp(s, "GMT", 3) == 0)
        s += 3;
    else if ((s[0] == 'Z' || s[0] == 'z') && s[1] == '\0') {
        *out = 0;
        return true;
    }
    if (*s == '\0') {
        *out = 0;
        return true;
    }
    if (*s != '+' && *s != '-')
        return false;
    sign = *s == '-' ? -1 : 1;
    s++;
    while (isdigit((unsigned char)*s) && nd < 2) {
        h = h * 10 + (*s++ - '0');
        nd++;
    }
    if (nd == 0)
        return false;
    if (*s == ':')
        s++;
    if (*s) {
        if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || s[2] != '\0')
            return false;
        m = (s[0] - '0') * 10 + (s[1] - '0');
    }
    if (h > 14 || m > 59 || (h == 14 && m > 0))
        return false;
    *out = sign * (h * 60 + m);
    return true;
}

static bool
fail(char *err, size_t len, const char *spec, const char *what)
{
    snprintf(err, len,
             "%s in window '%s'; expected DAYS HH:MM-HH:MM ZONE, for example \"Sat 02:00-04:00 "
             "UTC\", \"Mon-Fri 22:30-01:00 +02:00\" or \"daily 01:00-03:00 UTC\" (DAYS: Mon..Sun, "
             "a range Mon-Fri, a list Sat,Sun, or daily; ZONE: UTC or a fixed offset)",
             what, spec);
    return false;
}

/* The day set: "daily", "*", "Sat", "Mon-Fri", "Sat,Sun", "Fri-Mon" (wraps). */
static bool
parse_days(const char *s, size_t n, unsigned *out)
{
    unsigned days = 0;
    size_t i = 0;

    if ((n == 5 && strncasecmp(s, "daily", 5) == 0) || (n == 1 && s[0] == '*')) {
        *out = 0x7f;
        return true;
    }
    while (i < n) {
        size_t a = i, b;
        int d0, d1;
        while (i < n && s[i] != ',' && s[i] != '-')
            i++;
        if ((d0 = day_index(s + a, i - a)) < 0)
            return false;
        d1 = d0;
        if (i < n && s[i] == '-') {
            b = ++i;
            while (i < n && s[i] != ',')
                i++;
            if ((d1 = day_index(s + b, i - b)) < 0)
                return false;
        }
        for (int d = d0;; d = (d + 1) % 7) {
            days |= 1u << d;
            if (d == d1)
                break;
        }
        if (i < n) {
            i++; /* the comma */
            if (i == n)
                return false;
        }
    }
    *out = days;
    return days != 0;
}

bool
window_parse(const char *spec, window_t *out, char *err, size_t err_len)
{
    const char *p = spec, *days_end;
    int start, end, off;
    char zone[16];
    size_t zn = 0;

    memset(out, 0, sizeof(*out));
    while (isspace((unsigned char)*p))
        p++;
    days_end = p;
    while (*days_end && !isspace((unsigned char)*days_end))
        days_end++;
    if (days_end == p)
        return fail(err, err_len, spec, "nothing given");
    if (!parse_days(p, (size_t)(days_end - p), &out->days))
        return fail(err, err_len, spec, "unknown days");
    p = days_end;
    while (isspace((unsigned char)*p))
        p++;
    if (!parse_hhmm(&p, false, &start))
        return fail(err, err_len, spec, "bad start time (HH:MM, 00:00..23:59)");
    if (*p++ != '-')
        return fail(err, err_len, spec, "missing '-' between the start and end times");
    if (!parse_hhmm(&p, true, &end))
        return fail(err, err_len, spec, "bad end time (HH:MM, 00:00..24:00)");
    while (isspace((unsigned char)*p))
        p++;
    while (*p && !isspace((unsigned char)*p) && zn + 1 < sizeof(zone))
        zone[zn++] = *p++;
    zone[zn] = '\0';
    while (isspace((unsigned char)*p))
        p++;
    if (zn == 0)
        return fail(err, err_len, spec, "missing time zone (UTC or a fixed offset like +02:00)");
    if (*p != '\0' || !parse_offset(zone, &off))
        return fail(err, err_len, spec,
                    "unknown time zone (only UTC and fixed offsets: named zones change with "
                    "daylight saving time)");
    out->start_min = start;
    out->length_min = end > start ? end - start : end + 1440 - start;
    out->offset_min = off;
    return true;
}

static int64_t
mod_floor(int64_t a, int64_t m)
{
    int64_t r = a % m;
    return r < 0 ? r + m : r;
}

/* Seconds into the local week (0: Sunday 00:00 local). 1970-01-01 was a Thursday. */
static int64_t
second_of_week(const window_t *w, int64_t now)
{
    return mod_floor(now + (int64_t)w->offset_min * 60 + 4 * DAY_S, WEEK_S);
}

bool
window_contains(const window_t *w, int64_t now)
{
    int64_t sow = second_of_week(w, now);

    for (int d = 0; d < 7; d++) {
        int64_t open = d * DAY_S + (int64_t)w->start_min * 60;
        if ((w->days & (1u << d)) && mod_floor(sow - open, WEEK_S) < (int64_t)w->length_min * 60)
            return true;
    }
    return false;
}

int64_t
window_next_open(const window_t *w, int64_t now)
{
    int64_t sow = second_of_week(w, now), best = -1;

    if (window_contains(w, now))
        return now;
    for (int d = 0; d < 7; d++) {
        int64_t wait;
        if (!(w->days & (1u << d)))
            continue;
        wait = mod_floor(d * DAY_S + (int64_t)w->start_min * 60 - sow, WEEK_S);
        if (best < 0 || wait < best)
            best = wait;
    }
    return best < 0 ? -1 : now + best;
}

int64_t
window_close_after(const window_t *w, int64_t now)
{
    int64_t sow = second_of_week(w, now), best = -1;

    for (int d = 0; d < 7; d++) {
        int64_t open = d * DAY_S + (int64_t)w->start_min * 60, in;
        if (!(w->days & (1u << d)))
            continue;
        in = mod_floor(sow - open, WEEK_S);
        if (in < (int64_t)w->length_min * 60) {
            int64_t left = (int64_t)w->length_min * 60 - in;
            if (left > best)
                best = left;
        }
    }
    return best < 0 ? -1 : now + best;
}

/* Days since 1970-01-01 of a civil date (H. Hinnant's algorithm), and back. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

void
window_format_time(const window_t *w, int64_t t, char *buf, size_t len)
{
    int64_t local = t + (int64_t)w->offset_min * 60, sod = mod_floor(local, DAY_S);
    int64_t days = (local - sod) / DAY_S, y;
    int m, d;

    civil_from_days(days, &y, &m, &d);
    if (w->offset_min == 0)
        snprintf(buf, len, "%s %04lld-%02d-%02d %02d:%02d UTC", day_names[mod_floor(days + 4, 7)],
                 (long long)y, m, d, (int)(sod / 3600), (int)(sod % 3600 / 60));
    else
        snprintf(buf, len, "%s %04lld-%02d-%02d %02d:%02d %c%02d:%02d",
                 day_names[mod_floor(days + 4, 7)], (long long)y, m, d, (int)(sod / 3600),
                 (int)(sod % 3600 / 60), w->offset_min < 0 ? '-' : '+',
                 (w->offset_min < 0 ? -w->offset_min : w->offset_min) / 60,
                 (w->offset_min < 0 ? -w->offset_min : w->offset_min) % 60);
}

static bool
digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool
window_parse_iso8601(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, sec = 0, off = 0;
    const char *p;

    if (strlen(s) < 16 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
        s[7] != '-' || !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != ' ') ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi))
        return false;
    p = s + 16;
    if (*p == ':') {
        if (!digits(p + 1, 2, &sec))
            return false;
        p += 3;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return false;
    if (*p != '\0' && !parse_offset(p, &off))
        return false;
    *out = days_from_civil(y, mo, d) * DAY_S + h * 3600 + mi * 60 + sec - (int64_t)off * 60;
    return true;
}
