/* retry.h: bounded exponential backoff with full jitter (pure). */
#ifndef CONVOY_RETRY_H
#define CONVOY_RETRY_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    int64_t base_ms;      /* first backoff ceiling */
    int64_t cap_ms;       /* largest backoff ceiling */
    int max_attempts;     /* total tries, including the first */
    int64_t max_total_ms; /* give up once this much time has passed */
} retry_policy_t;

#define RETRY_DEFAULT_BASE_MS      20
#define RETRY_DEFAULT_CAP_MS       2000
#define RETRY_DEFAULT_MAX_ATTEMPTS 60
#define RETRY_DEFAULT_MAX_TOTAL_MS 120000

void retry_policy_default(retry_policy_t *p);
/*
 * Delay before try number `attempt` (1 = the first retry): uniform in
 * [0, min(cap, base * 2^(attempt-1))], drawn from `rnd` (any 32-bit random value).
 */
int64_t retry_delay_ms(const retry_policy_t *p, int attempt, uint32_t rnd);
/* May another try start after `attempts` tries and `elapsed_ms`? */
bool retry_allowed(const retry_policy_t *p, int attempts, int64_t elapsed_ms);

#endif
