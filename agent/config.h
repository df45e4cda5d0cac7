/*
 * config.h: the agent's INI config (docs/fleet.md, "Agent config").
 *
 * agent_config_load reads and checks the whole file and reports every problem at once, each
 * as one "FILE:LINE: what is wrong; what to write instead" line, sorted by line. Relative
 * key file paths are resolved against the directory of the config file.
 *
 * role = cache adds redis (required), redis_password_file, second_pass and purge_rate; for
 * the other roles those keys are errors.
 *
 * role = app adds app_version (required) and error_counter_file, and makes conninfo optional
 * (without it the agent uses no database); for the other roles those keys are errors.
 */
#ifndef CONVOY_AGENT_CONFIG_H
#define CONVOY_AGENT_CONFIG_H

#include "convoy/transport.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGENT_MAX_COORDINATORS    16
#define AGENT_MAX_NODE            63 /* ZAP user ids are at most 63 bytes (zap_entry_t.name) */
#define AGENT_HEARTBEAT_DEFAULT   100
#define AGENT_HEARTBEAT_MIN_MS    10
#define AGENT_HEARTBEAT_MAX_MS    60000
#define AGENT_MAX_LINE            16384 /* longer lines are refused */
#define AGENT_SECOND_PASS_DEFAULT 500   /* ms between a key row's first and second UNLINK */
#define AGENT_SECOND_PASS_MIN_MS  10
#define AGENT_SECOND_PASS_MAX_MS  3600000
#define AGENT_PURGE_RATE_DEFAULT  50 /* SCAN calls a second, at most */
#define AGENT_PURGE_RATE_MAX      10000
#define AGENT_MAX_PASSWORD        4096
#define AGENT_MAX_APP_VERSION     64 /* the coordinator keeps 64 bytes of it */

typedef enum { AGENT_REPLICA, AGENT_PRIMARY, AGENT_CACHE, AGENT_APP } agent_role_t;

typedef struct {
    char *path; /* the config file, as given */
    char *node;
    agent_role_t role;
    char *conninfo; /* may hold a password: never log it; NULL only for role = app */
    char **coordinators;
    size_t n_coordinators;
    char *coordinator_key;             /* as written ("" when not given) */
    char *key_file;                    /* as written ("" when not given) */
    char server_public[CURVE_KEY_Z85]; /* loaded; "" when not given */
    curve_keys_t keys;                 /* loaded; zero when not given */
    int64_t heartbeat_ms;
    bool insecure;
    /* role = cache only (NULL / zero otherwise) */
    char *redis;               /* redis://HOST:PORT[/DB], as written */
    char *redis_host;          /* HOST, without the brackets of an IPv6 address */
    int redis_port;            /* 1 to 65535 */
    int redis_db;              /* 0 when the URL names none */
    char *redis_password_file; /* as written; NULL when not given */
    char *redis_password;      /* the file's first line; NULL when none; never log it */
    int64_t second_pass_ms;
    int64_t purge_rate; /* SCAN calls a second, at most */
    /* role = app only (NULL otherwise) */
    char *app_version;        /* 1 to 64 of [A-Za-z0-9._-] */
    char *error_counter_file; /* as written; NULL when not given */
    char *error_counter_path; /* resolved against the config file's directory; NULL likewise */
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
    AGENT_KEY_REDIS = 1u << 8,
    AGENT_KEY_REDIS_PASSWORD_FILE = 1u << 9, /* the path or the password in it */
    AGENT_KEY_SECOND_PASS = 1u << 10,
    AGENT_KEY_PURGE_RATE = 1u << 11,
    AGENT_KEY_APP_VERSION = 1u << 12,
    AGENT_KEY_ERROR_COUNTER_FILE = 1u << 13,
};
/* The cache keys take effect on reload only while the role stays cache. */
#define AGENT_KEYS_CACHE                                                                           \
    (AGENT_KEY_REDIS | AGENT_KEY_REDIS_PASSWORD_FILE | AGENT_KEY_SECOND_PASS | AGENT_KEY_PURGE_RATE)
/* The app keys likewise, while the role stays app. */
#define AGENT_KEYS_APP (AGENT_KEY_APP_VERSION | AGENT_KEY_ERROR_COUNTER_FILE)
#define AGENT_KEYS_RELOADABLE                                                                      \
    (AGENT_KEY_CONNINFO | AGENT_KEY_HEARTBEAT | AGENT_KEYS_CACHE | AGENT_KEYS_APP)

/* The keys whose values differ (key files compare by the keys they hold, too). */
unsigned agent_config_changed(const agent_config_t *a, const agent_config_t *b);
/* "node, coordinators" for bits; the caller frees. */
char *agent_config_key_names(unsigned bits);

#endif
