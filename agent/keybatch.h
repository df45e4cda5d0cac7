/*
 * keybatch.h: the keys of one outbox row on their way from PostgreSQL to Redis, pure.
 *
 * An outbox row holds its keys as text[]. The claim reads its text output
 * ({user:1,"a b",NULL}); keybatch_split cuts it into keys in place (quotes and backslash
 * escapes undone, every key NUL-terminated inside the same buffer), so a row of 30,000 keys
 * costs two allocations, not 30,000. keybatch_resp writes the Redis protocol (RESP) of
 * commands over those keys into one buffer, which the cache side hands to hiredis as an
 * already formatted command. Both are table-tested in tests/unit/test_keybatch.c.
 */
#ifndef CONVOY_AGENT_KEYBATCH_H
#define CONVOY_AGENT_KEYBATCH_H

#include "convoy/util.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * Splits PostgreSQL's text output of a text[] in s, in place: nested braces are flattened,
 * NULL elements skipped, "[1:2]={...}" dimensions accepted. True with *keys pointing into s
 * and their lengths (free both arrays with free(); s stays the caller's). False, with
 * nothing allocated, when s is not such an output.
 */
bool keybatch_split(char *s, char ***keys, size_t **lens, size_t *n);

/* Appends to out the RESP of the command `name arg...` (n args; binary-safe). */
void keybatch_resp(
    sb_t *out, const char *name, size_t name_len, char *const *args, const size_t *lens, size_t n);

#endif
