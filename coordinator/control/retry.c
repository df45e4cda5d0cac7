/* retry.c: exponential backoff with full jitter, bounded in attempts and time. */
#include "convoy/retry.h"

void
retry_policy_default(retry_policy_t *p)
{
    p->base_ms = RETRY_DEFAULT_BASE_MS;
    p->cap_ms = RETRY_DEFAULT_CAP_MS;
    p->max_attempts = RETRY_DEFAULT_MAX_ATTEMPTS;
    p->max_total_ms = RETRY_DEFAULT_MAX_TOTAL_MS;
}

int64_t
retry_delay_ms(const retry_policy_t *p, int attempt, uint32_t rnd)
{
    int64_t ceiling = p->base_ms;

    for (int i = 1; i < attempt && ceiling < p->cap_ms && ceiling <= INT64_MAX / 2; i++)
        ceiling *= 2;
    if (ceiling > p->cap_ms)
        ceiling = p->cap_ms;
    if (ceiling <= 0)
        return 0;
    /* 64-bit modulo: no truncation or division by zero for any ceiling. */
    return (int64_t)((uint64_t)rnd % ((uint64_t)ceiling + 1));
}

bool
retry_allowed(const retry_policy_t *p, int attempts, int64_t elapsed_ms)
{
    return attempts < p->max_attempts && elapsed_ms < p->max_total_ms;
}
