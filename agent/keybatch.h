/*
 * keybatch.h: the keys of one outbox row on their way from PostgreSQL to Redis, pure.
 *
 * An outbox row holds its keys as text[]. The claim reads it in the binary format
 * (array_send: a length before every element, nothing quoted or escaped), and
 * keybatch_from_binary copies the keys into one buffer, each NUL-terminated, so a row of
 * 30,000 keys costs three allocations, not 30,000. keybatch_resp writes the Redis protocol
 * (RESP) of commands over those keys into one buffer, which the cache side hands to hiredis
 * as an already formatted command. Both are table-tested in tests/unit/test_keybatch.c.
 */
#ifndef CONVOY_AGENT_KEYBATCH_H
#define CONVOY_AGENT_KEYBATCH_H

#include "convoy/util.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * Cuts the binary value (len bytes at v) of a text[] of any number of dimensions into its
 * keys, NULL elements skipped. True with *buf holding the keys, *keys pointing into it and
 * their lengths (free all three with free()). False, with nothing allocated, when v is not
 * such a value (another element type, truncated, trailing bytes).
 */
bool
keybatch_from_binary(const char *v, size_t len, char **buf, char ***keys, size_t **lens, size_t *n);

/* Appends to out the RESP of the command `name arg...` (n args; binary-safe). */
void keybatch_resp(
    sb_t *out, const char *name, size_t name_len, char *const *args, const size_t *lens, size_t n);

#endif
