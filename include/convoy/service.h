/*
 * service.h: `convoy coordinator`: the long-running service that drives the migrations
 * submitted for its cluster through the same engine the CLI uses, with the fleet's gate:
 * agents' reports over ZeroMQ (CURVE), the heartbeat row, replica lag, readers and replay.
 */
#ifndef CONVOY_SERVICE_H
#define CONVOY_SERVICE_H

#include <stdbool.h>

typedef struct {
    const char *config; /* the cluster config */
    const char *bind;   /* NULL: the config's bind */
    bool insecure;      /* --insecure: plain text, said on every status line */
} service_opts_t;

/* Runs until SIGINT/SIGTERM. Returns an exit code (EXIT_*); errors are logged. */
int service_run(const service_opts_t *o);

#endif
