/* agent.h: the agent's loop (sockets, database, reports, commands, signals). */
#ifndef CONVOY_AGENT_AGENT_H
#define CONVOY_AGENT_AGENT_H

#include "config.h"

/*
 * Runs until SIGTERM or SIGINT (then returns 0), or a fatal socket error (1). Takes
 * ownership of *cfg. SIGHUP reloads cfg->path: heartbeat, conninfo and the role's own keys
 * (cache: redis...; app: app_version, error_counter_file) take effect, the other keys need a
 * restart (logged), a bad file is logged and the running config kept.
 */
int agent_run(agent_config_t *cfg);

#endif
