/* runctl.c: stop requests and cancellable sleeps. */
#include "convoy/runctl.h"

#include <time.h>

void
run_ctl_stop(run_ctl_t *c)
{
    char buf[64];
    PGcancel *cancel;

    if (c == NULL)
        return;
    c->stop = 1;
    cancel = c->cancel;
    if (cancel)
        PQcancel(cancel, buf, (int)sizeof(buf));
    for (int i = 0; i < RUN_CTL_MAX_EXTRA; i++)
        if ((cancel = c->extra[i]) != NULL)
            PQcancel(cancel, buf, (int)sizeof(buf));
}

bool
run_ctl_stopped(const run_ctl_t *c)
{
    return c && c->stop;
}

bool
run_ctl_sleep(const run_ctl_t *c, int64_t ms)
{
    while (ms > 0) {
        int64_t slice = ms > 20 ? 20 : ms;
        struct timespec ts = {0, (long)slice * 1000000L};
        if (run_ctl_stopped(c))
            return false;
        nanosleep(&ts, NULL);
        ms -= slice;
    }
    return !run_ctl_stopped(c);
}
