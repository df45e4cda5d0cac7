/* progress.c: terminal progress rendering (stderr), quiet-aware and pipe-friendly. */
#include "progress.h"

#include "convoy/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#define NON_TTY_INTERVAL_MS 2000

void
progress_init(progress_t *p, bool quiet)
{
    p->tty = isatty(STDERR_FILENO);
    p->quiet = quiet;
    p->line_open = false;
    p->last_ms = 0;
}

void
progress_finish(progress_t *p)
{
    if (p->line_open) {
        fputc('\n', stderr);
        p->line_open = false;
    }
    fflush(stderr);
}

void
progress_line(progress_t *p, const char *fmt, ...)
{
    va_list ap;

    if (p->quiet)
        return;
    progress_finish(p);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

void
progress_status(progress_t *p, const char *fmt, ...)
{
    va_list ap;
    int64_t now = now_mono_ms();

    if (p->quiet)
        return;
    if (!p->tty && now - p->last_ms < NON_TTY_INTERVAL_MS)
        return;
    p->last_ms = now;
    if (p->tty)
        fputs("\r\033[K", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (p->tty) {
        p->line_open = true;
    } else {
        fputc('\n', stderr);
    }
    fflush(stderr);
}
