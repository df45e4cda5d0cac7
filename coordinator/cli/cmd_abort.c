/* cmd_abort.c: `convoy abort NAME`: ask the driver to stop, or clean up when nobody drives. */
#include "cli.h"
#include "convoy/executor.h"
#include "convoy/lease.h"
#include "convoy/state.h"
#include "convoy/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int
cmd_abort(const cli_opts_t *o)
{
    pg_t *pg = cli_connect(o);
    const char *p[1] = {o->name};
    mig_row_t row = {0};
    bool found = false;
    lease_t lease = {0};
    char *holder = NULL, *actor = NULL;
    char **status = NULL;
    plan_t stored = {0};
    progress_t prog;
    int rc = EXIT_ERROR;

    if (pg == NULL)
        return EXIT_ERROR;
    progress_init(&prog, o->quiet);
    if (!state_load_migration(pg, o->name, &row, &found) || !found) {
        fprintf(stderr, "convoy: no migration named %s\n", o->name);
        goto done;
    }
    if (strcmp(row.status, "done") == 0 || strcmp(row.status, "aborted") == 0) {
        fprintf(stderr, "convoy: migration %s is already %s; nothing to abort\n", o->name,
                row.status);
        rc = strcmp(row.status, "aborted") == 0 ? EXIT_OK : EXIT_ERROR;
        goto done;
    }
    actor = cli_actor();
    state_set_actor(actor);
    if (pg_run(pg,
               "UPDATE convoy.migrations SET status = 'aborting', updated_at = now() "
               "WHERE name = $1",
               1, p, NULL) != PG_OK) {
        fprintf(stderr, "convoy: %s\n", pg_errmsg(pg));
        goto done;
    }
    if (lease_acquire(pg, o->name, actor, &lease, &holder) == LEASE_ACQUIRED) {
        /* Nobody drives it now: clean up here. */
        exec_t ex = {0};
        if (!state_load_steps(pg, o->name, &stored, &status)) {
            fprintf(stderr, "convoy: reading the stored plan: %s\n", pg_errmsg(pg));
            goto done;
        }
        ex.pg = pg;
        ex.name = o->name;
        ex.plan = &stored;
        ex.status = status;
        ex.lease = &lease;
        ex.progress = &prog;
        exec_abort_cleanup(&ex);
        lease_release(pg, &lease);
        rc = EXIT_OK;
        goto done;
    }
    progress_line(&prog, "convoy: asked %s to stop at the next safe point; waiting", holder);
    for (int i = 0; i < 600; i++) {
        char *st = state_status(pg, o->name);
        bool stopped = st && strcmp(st, "aborting") != 0;
        struct timespec ts = {0, 100 * 1000000L};
        if (stopped) {
            progress_line(&prog, "convoy: migration %s is now %s", o->name, st);
            free(st);
            rc = EXIT_OK;
            goto done;
        }
        free(st);
        nanosleep(&ts, NULL);
    }
    fprintf(stderr,
            "convoy: the driving process has not reached a safe point after 60 s; it "
            "will stop there. Check with `convoy status %s`\n",
            o->name);
    rc = EXIT_OK;
done:
    for (size_t i = 0; status && i < stored.n_steps; i++)
        free(status[i]);
    free(status);
    plan_free(&stored);
    mig_row_free(&row);
    free(holder);
    free(actor);
    pg_close(&pg);
    return rc;
}
