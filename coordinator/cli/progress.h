/* progress.h: live progress on stderr: a rewritten line on a terminal, periodic lines otherwise. */
#ifndef CONVOY_PROGRESS_H
#define CONVOY_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    bool tty;
    bool quiet;
    bool line_open;
    int64_t last_ms;
} progress_t;

void progress_init(progress_t *p, bool quiet);
/* A permanent line (always printed unless quiet). */
void progress_line(progress_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A transient status line: redrawn on a terminal, at most every 2 s otherwise. */
void progress_status(progress_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void progress_finish(progress_t *p);

#endif
