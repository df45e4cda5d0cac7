/* events.c: delivering engine events to whoever listens. */
#include "convoy/events.h"

#include "convoy/util.h"

#include <stdarg.h>
#include <stdlib.h>

void
events_emit(const engine_events_t *ev, const engine_event_t *e)
{
    if (ev && ev->emit)
        ev->emit(ev->ud, e);
}

void
events_line(const engine_events_t *ev,
            engine_event_kind_t kind,
            const char *migration,
            int step,
            const char *fmt,
            ...)
{
    engine_event_t e = {0};
    sb_t sb;
    va_list ap;

    if (ev == NULL || ev->emit == NULL)
        return;
    sb_init(&sb);
    va_start(ap, fmt);
    sb_vprintf(&sb, fmt, ap);
    va_end(ap);
    e.kind = kind;
    e.migration = migration;
    e.step = step;
    e.text = sb.data;
    ev->emit(ev->ud, &e);
    sb_free(&sb);
}
