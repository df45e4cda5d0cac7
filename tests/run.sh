#!/usr/bin/env bash
# run.sh: the one test command: -Werror build + ctest, then an ASan/UBSan build + ctest again
# (the whole suite there; the first build skips the label `long`, see below).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

JOBS="${CONVOY_JOBS:-2}"
BUILD_TYPE="${CONVOY_BUILD_TYPE:-Debug}"

section() {
  printf '\n==== %s ====\n' "$*"
}

# LeakSanitizer needs ptrace-like access that some sandboxes deny; probe it once and only
# ask for leak detection where it can actually run.
lsan_works() {
  local dir rc=0 out
  command -v cc >/dev/null 2>&1 || return 1
  dir="$(mktemp -d)"
  printf '#include <stdlib.h>\nint main(void){ void *volatile p = malloc(7); p = 0; return 0; }\n' \
    >"$dir/leak.c"
  if ! cc -fsanitize=address -g "$dir/leak.c" -o "$dir/leak" >/dev/null 2>&1; then
    rm -rf "$dir"
    return 1
  fi
  out="$(ASAN_OPTIONS=detect_leaks=1 "$dir/leak" 2>&1)" || rc=$?
  rm -rf "$dir"
  [[ $rc -ne 0 && "$out" == *"LeakSanitizer: detected memory leaks"* ]]
}

build_and_test() {
  local dir="$1" select="$2"
  shift 2
  section "configure $dir ($*)"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" -DCONVOY_WERROR=ON "$@"
  section "build $dir"
  cmake --build "$dir" -j"$JOBS"
  section "test $dir"
  # Unit tests run in parallel; the server-backed tests are RUN_SERIAL (timing-sensitive).
  # A failing suite does not stop the other build's run; the script fails at the end.
  # shellcheck disable=SC2086 # $select is empty or one ctest option pair
  if ! ctest --test-dir "$dir" --output-on-failure -j"$JOBS" $select; then
    failed+=("$dir")
  fi
}

failed=()

# In CI every dependency is installed, so a test that would skip (exit 77) fails instead.
if [[ "${CI:-}" == "true" ]]; then
  export CONVOY_TEST_NO_SKIP=1
fi

# The long suites (label `long`: the differential corpus and the fleet, ~7 min each, and the
# rehearsal's baseline, ~1 min) run once, in the sanitizer build; everything else runs in
# both. CONVOY_TEST_ALL=1 runs them in both.
first_select="-LE long"
[[ "${CONVOY_TEST_ALL:-}" == "1" ]] && first_select=""
build_and_test build "$first_select"

if lsan_works; then
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
else
  echo "run.sh: LeakSanitizer does not work here; running ASan without leak detection"
  export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1"
fi
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
build_and_test build-asan "" -DCONVOY_SANITIZE=ON

if ((${#failed[@]} > 0)); then
  echo "run.sh: tests failed in: ${failed[*]}" >&2
  exit 1
fi
