#!/usr/bin/env bash
# run_differential.sh: run the differential test (all of the corpus, or the files given).
#
#   tests/differential/run_differential.sh                       # the whole corpus
#   tests/differential/run_differential.sh corpus/prisma_enum_role.sql [more files...]
#   tests/differential/run_differential.sh -v prisma_enum_role   # details of known gaps too
#
# It runs the C test built from differential.c (one throwaway PostgreSQL, cleaned up by the
# harness even on a crash). BUILD_DIR picks the build directory (default: build-diff, then
# build); CONVOY_BIN overrides the convoy binary under test.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${BUILD_DIR:-}"
if [[ -z "$build" ]]; then
  for d in "$root/build-diff" "$root/build"; do
    if [[ -x "$d/tests/differential/test_differential" ]]; then build="$d"; break; fi
  done
fi
if [[ -z "$build" || ! -x "$build/tests/differential/test_differential" ]]; then
  echo "run_differential.sh: no test_differential found; build first, for example:" >&2
  echo "  cmake -S $root -B $root/build-diff -DCONVOY_WERROR=ON && cmake --build $root/build-diff -j2" >&2
  exit 2
fi
export CONVOY_BIN="${CONVOY_BIN:-$build/coordinator/convoy}"
export CONVOY_DIFF_DIR="$here"
# Paths relative to the caller's directory keep working: the test resolves them itself.
exec "$build/tests/differential/test_differential" "$@"
