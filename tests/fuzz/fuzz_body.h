/*
 * fuzz_body.h: the checks the wire fuzz target runs on one input, shared by the libFuzzer
 * entry (fuzz_wire.c) and the corpus replay (replay_corpus.c) so both test the same thing.
 */
#ifndef CONVOY_FUZZ_BODY_H
#define CONVOY_FUZZ_BODY_H

#include <stddef.h>
#include <stdint.h>

/* NULL when the codec behaved on data, else a one-line description of what went wrong. */
const char *fuzz_wire_one(const uint8_t *data, size_t size);

#endif
