/*
 * fuzz_wire.c: the libFuzzer target for the wire codec (built with CONVOY_FUZZ=ON and
 * clang; see docs/fuzzing.md). The checks are in fuzz_body.c, which the corpus replay
 * (replay_corpus.c) also runs in every ctest.
 */
#include "fuzz_body.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why = fuzz_wire_one(data, size);

    if (why != NULL) {
        fprintf(stderr, "fuzz_wire: %s (%zu-byte input)\n", why, size);
        abort();
    }
    return 0;
}
