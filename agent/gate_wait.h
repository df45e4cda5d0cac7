/* gate_wait.h: `convoy-agent gate wait`, the local deploy gate (for ExecStartPre= or a hook). */
#ifndef CONVOY_AGENT_GATE_WAIT_H
#define CONVOY_AGENT_GATE_WAIT_H

#include "config.h"

#include <stdint.h>

enum { GATE_WAIT_OPEN = 0, GATE_WAIT_FAILED = 1, GATE_WAIT_TIMEOUT = 2, GATE_WAIT_ERROR = 3 };

/* timeout_ms < 0: wait forever. Returns a GATE_WAIT_* exit code. */
int gate_wait_run(const agent_config_t *cfg, const char *version, int64_t timeout_ms);

#endif
