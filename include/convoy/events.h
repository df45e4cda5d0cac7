/*
 * events.h: what the engine reports while it works. The engine never prints: the CLI
 * renders these events for people (or collects them as JSON), and the coordinator service
 * will publish them. Pointers are valid only during the callback.
 */
#ifndef CONVOY_EVENTS_H
#define CONVOY_EVENTS_H

#include "convoy/plan.h"

#include <stdint.h>

typedef enum {
    EVT_INFO,       /* a permanent line for people: text */
    EVT_NOTE,       /* a plan note: note_kind (error, refused, warning), note */
    EVT_STEP_BEGIN, /* step, n_steps, s */
    EVT_STEP_END,   /* step, s, outcome (done, failed, blocked, skipped), ms, rows, text */
    EVT_WAIT,       /* waiting for a lock or a session: text names the blocker */
    EVT_PROGRESS,   /* backfill progress: step, done, total, pct, rate, eta_ms, batch_* */
    EVT_HOLD,       /* held at a gate: text is the reason ("" when the hold ends) */
} engine_event_kind_t;

typedef struct {
    engine_event_kind_t kind;
    const char *migration;
    int step; /* 1-based, 0: none */
    int n_steps;
    const step_t *s;
    const char *text;
    const char *outcome;
    int64_t ms;
    int64_t rows;
    const char *note_kind;
    const plan_note_t *note;
    int64_t done, total, updated;
    double pct, rate;
    int64_t eta_ms, batch_rows, batch_ms;
} engine_event_t;

typedef struct {
    void (*emit)(void *ud, const engine_event_t *e);
    void *ud;
} engine_events_t;

void events_emit(const engine_events_t *ev, const engine_event_t *e);
/* An EVT_INFO (or kind) line, printf-style. */
void events_line(const engine_events_t *ev,
                 engine_event_kind_t kind,
                 const char *migration,
                 int step,
                 const char *fmt,
                 ...) __attribute__((format(printf, 5, 6)));

#endif
