/*
 * health.c: role = app, the error rate from the app's error counter file (see health.h).
 */
#include "health.h"

#include "convoy/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the rate -------------------------------------------------------------------- */

void
rate_reset(rate_t *r)
{
    r->head = 0;
    r->n = 0;
}

static rate_sample_t *
at(rate_t *r, size_t i)
{
    return &r->s[(r->head + i) % RATE_MAX_SAMPLES];
}

static const rate_sample_t *
cat(const rate_t *r, size_t i)
{
    return &r->s[(r->head + i) % RATE_MAX_SAMPLES];
}

rate_push_t
rate_push(rate_t *r, int64_t now_ms, uint64_t count)
{
    rate_push_t what = RATE_PUSHED;

    if (r->n > 0) {
        rate_sample_t *newest = at(r, r->n - 1);
        if (count < newest->count || now_ms < newest->t_ms) {
            rate_reset(r);
            what = RATE_RESET;
        } else if (now_ms == newest->t_ms) {
            newest->count = count;
            return RATE_REPLACED;
        }
    }
    if (r->n == RATE_MAX_SAMPLES) {
        r->head = (r->head + 1) % RATE_MAX_SAMPLES;
        r->n--;
    }
    *at(r, r->n) = (rate_sample_t){now_ms, count};
    r->n++;
    return what;
}

double
rate_value(const rate_t *r, int64_t now_ms, int64_t window_ms)
{
    const rate_sample_t *oldest = NULL, *newest;
    int64_t from = now_ms - window_ms;

    if (r->n < 2)
        return RATE_UNKNOWN;
    newest = cat(r, r->n - 1);
    for (size_t i = 0; i < r->n - 1 && oldest == NULL; i++)
        if (cat(r, i)->t_ms >= from)
            oldest = cat(r, i);
    if (oldest == NULL || newest->t_ms <= oldest->t_ms)
        return RATE_UNKNOWN;
    return (double)(newest->count - oldest->count) * 1000.0 / (double)(newest->t_ms - oldest->t_ms);
}

int64_t
rate_window_ms(int64_t heartbeat_ms)
{
    int64_t w = heartbeat_ms + heartbeat_ms / 2;

    return w > RATE_WINDOW_MS ? w : RATE_WINDOW_MS;
}

/* ---- the counter file ------------------------------------------------------------ */

static bool
blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool
counter_parse(const char *text, size_t len, uint64_t *out)
{
    size_t i = 0, digits = 0;
    uint64_t v = 0;

    while (i < len && blank(text[i]))
        i++;
    for (; i < len && text[i] >= '0' && text[i] <= '9'; i++, digits++) {
        unsigned d = (unsigned)(text[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    while (i < len && blank(text[i]))
        i++;
    if (digits == 0 || i != len)
        return false;
    *out = v;
    return true;
}

bool
health_read_counter(const char *path, uint64_t *out, char *why, size_t why_len)
{
    char text[COUNTER_MAX_TEXT + 1], shown[48];
    struct stat st;
    size_t len = 0;
    int fd, err;

    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(why, why_len, "cannot open %s: %s", path, strerror(errno));
        return false;
    }
    if (fstat(fd, &st) != 0) {
        err = errno;
        close(fd);
        snprintf(why, why_len, "cannot stat %s: %s", path, strerror(err));
        return false;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        snprintf(why, why_len, "%s is not a regular file", path);
        return false;
    }
    while (len < sizeof(text)) {
        ssize_t n = read(fd, text + len, sizeof(text) - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = errno;
            close(fd);
            snprintf(why, why_len, "cannot read %s: %s", path, strerror(err));
            return false;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    if (len > COUNTER_MAX_TEXT) {
        snprintf(why, why_len, "%s holds more than %d bytes; it must hold one non-negative integer",
                 path, COUNTER_MAX_TEXT);
        return false;
    }
    if (!counter_parse(text, len, out)) {
        text_excerpt(text, len, 32, shown, sizeof(shown));
        snprintf(why, why_len, "%s does not hold one non-negative integer (`%s`)", path, shown);
        return false;
    }
    return true;
}
