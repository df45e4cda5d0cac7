/*
 * config.h: the agent's INI config (docs/fleet.md, "Agent config").
 *
 * agent_config_load reads and checks the whole file and reports every problem at once, each
 * as one "FILE:LINE: what is wrong; what to write instead" line, sorted by line. Relative
 * key file paths are resolved against the directory of the config file.
 */
#ifndef CONVOY_AGENT_CONFIG_H
#define CONVOY_AGENT_CONFIG_H

#include "convoy/transport.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGENT_MAX_COORDINATORS  16
#define AGENT_MAX_NODE          63 /* ZAP user ids are at most 63 bytes (zap_entry_t.name) */
#define AGENT_HEARTBEAT_DEFAULT 100
#define AGENT_HEARTBEAT_MIN_MS  10
#define AGENT_HEARTBEAT_MAX_MS  60000
#define AGENT_MAX_LINE          16384 /* longer lines are refused */

typedef enum { AGENT_REPLICA, AGENT_PRIMARY } agent_role_t;

typedef struct {
    char *path; /* the config file, as given */
    char *node;
    agent_role_t role;
    char *conninfo; /* may hold a password: never log it */
    char **coordinators;
    size_t n_coordinators;
    char *coordinator_key;             /* as written ("" when not given) */
    char *key_file;                    /* as written ("" when not given) */
    char server_public[CURVE_KEY_Z85]; /* loaded; "" when not given */
    curve_keys_t keys;                 /* loaded; zero when not given */
    int64_t heartbeat_ms;
    bool insecure;
} agent_config_t;

typedef struct {
    char **lines; /* "FILE:LINE: message" */
    size_t n;
} agent_config_errors_t;

/*
 * Loads and checks path. True: *out is a complete config (free with agent_config_free) and
 * errs is empty. False: *out is zeroed and errs holds every error line (free with
 * agent_config_errors_free).
 */
bool agent_config_load(const char *path, agent_config_t *out, agent_config_errors_t *errs);
void agent_config_free(agent_config_t *c);
void agent_config_errors_free(agent_config_errors_t *errs);

const char *agent_role_name(agent_role_t role);

/* The keys, as bits, for agent_config_changed. */
enum {
    AGENT_KEY_NODE = 1u << 0,
    AGENT_KEY_ROLE = 1u << 1,
    AGENT_KEY_CONNINFO = 1u << 2,
    AGENT_KEY_COORDINATORS = 1u << 3,
    AGENT_KEY_COORDINATOR_KEY = 1u << 4,
    AGENT_KEY_KEY_FILE = 1u << 5,
    AGENT_KEY_HEARTBEAT = 1u << 6,
    AGENT_KEY_INSECURE = 1u << 7,
};
#define AGENT_KEYS_RELOADABLE (AGENT_KEY_CONNINFO | AGENT_KEY_HEARTBEAT)

/* The keys whose values differ (key files compare by the keys they hold, too). */
unsigned agent_config_changed(const agent_config_t *a, const agent_config_t *b);
/* "node, coordinators" for bits; the caller frees. */
char *agent_config_key_names(unsigned bits);

#endif
