/*
 * cluster.h: the cluster config (INI, read with inih): the coordinator's settings and the
 * nodes, each with its role, the conninfo the coordinator uses and its agent's public key.
 * Every error is reported at once, each as FILE:LINE: what is wrong and the fix. Relative
 * paths are relative to the config file's directory.
 */
#ifndef CONVOY_CLUSTER_H
#define CONVOY_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *name;
    bool replica; /* a streaming replica (role = replica) */
    bool cache;   /* role = cache: works the Redis invalidation outbox */
    bool primary;
    bool app; /* role = app: an application node reporting its version and error rate */
    bool role_given;
    char *conninfo;
    char key[41]; /* the agent's CURVE public key ("" when insecure and not given) */
    bool key_given;
    int line;
} cluster_node_t;

typedef struct {
    char *path;
    char *name;
    char *bind;
    char *key_file; /* the coordinator's key pair */
    int64_t heartbeat_ms;
    int64_t max_lag_ms;
    int64_t replay_timeout_ms;
    int64_t reader_hold_ms;
    double error_rate_limit; /* app errors per second above which the migration holds */
    int64_t health_grace_ms; /* held that long for app health: paused for an operator */
    /* the primary's pg_stat_database (every database): rates above which the migration holds;
     * < 0: not watched */
    double rollback_rate_limit; /* rolled-back transactions per second */
    double deadlock_rate_limit; /* deadlocks per second (0: any deadlock holds) */
    bool health_abort;          /* health_action = abort: abort after health_grace, not pause */
    char *pause_file;           /* NULL: none */
    char *http;                 /* the gate API's HOST:PORT; NULL: off */
    char *http_token_file;      /* its bearer token (required with http) */
    bool insecure;
    cluster_node_t *nodes;
    size_t n_nodes;
} cluster_t;

/* False with *errors (one line per problem, newline-separated; the caller frees). */
bool cluster_load(const char *path, cluster_t *c, char **errors);
void cluster_free(cluster_t *c);
const cluster_node_t *cluster_primary(const cluster_t *c);
/* Resolves a path from the config relative to its directory (newly allocated). */
char *cluster_path(const cluster_t *c, const char *p);

#endif
