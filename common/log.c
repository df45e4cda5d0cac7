/* log.c: level-gated stderr logging; every line carries the current context. */
#include "convoy/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static log_level_t current_level = LOG_INFO;
/* per thread: the coordinator's worker and its fleet loop log side by side */
static _Thread_local char context[256];

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void
log_set_level(log_level_t level)
{
    current_level = level;
}

log_level_t
log_get_level(void)
{
    return current_level;
}

void
log_set_context(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(context, sizeof(context), fmt, ap);
    va_end(ap);
}

void
log_emit(log_level_t level, const char *file, int line, const char *fmt, ...)
{
    char ts[32];
    time_t now;
    struct tm tm;
    va_list ap;
    const char *base = strrchr(file, '/');

    if (level < current_level)
        return;
    now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    flockfile(stderr); /* one whole line at a time, whichever thread writes it */
    fprintf(stderr, "%s %-5s ", ts, level_names[level]);
    if (context[0])
        fprintf(stderr, "%s ", context);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (current_level == LOG_DEBUG)
        fprintf(stderr, " (%s:%d)", base ? base + 1 : file, line);
    fputc('\n', stderr);
    funlockfile(stderr);
}
