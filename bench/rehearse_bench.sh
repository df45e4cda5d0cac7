#!/usr/bin/env bash
# rehearse_bench.sh: `convoy rehearse` on a 1M-row PROD (docs/benchmarks.md, "Rehearsal"):
# generation rows/s against a plain INSERT ... SELECT of the same rows, PROD's pg_stats next to
# STAGING's, and the seed's migration with a backfill under traffic, optionally with the psql
# baseline. Usage: bench/rehearse_bench.sh --convoy BIN [--rows N] [--scale F] [--baseline]
#                  [--file MIGRATION.sql] [--keep]
set -uo pipefail
rows=1000000 scale=1 baseline='' file='' keep=''
while (($#)); do
    case $1 in
    --convoy) export CONVOY_BIN=$2; shift ;;
    --rows) rows=$2; shift ;;
    --scale) scale=$2; shift ;;
    --baseline) baseline=1 ;;
    --file) file=$(realpath "$2"); shift ;;
    --keep) keep=1 ;;
    -h | --help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
[[ -n ${CONVOY_BIN:-} ]] || { echo "give --convoy BIN" >&2; exit 2; }
export CONVOY_TEST_NO_SKIP=1
# shellcheck source=tests/rehearse/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../tests/rehearse/lib.sh"
[[ -n $keep ]] && export KEEP=1
echo "machine: $(nproc) cpus, $(grep MemTotal /proc/meminfo | awk '{print $2/1048576 " GiB"}'), load $(cut -d' ' -f1-3 /proc/loadavg)"
start_pg
t0=$(date +%s.%N)
make_prod "$rows"
echo "PROD: $rows users built in $(echo "$(date +%s.%N) - $t0" | bc) s; $(q prod "SELECT pg_size_pretty(pg_total_relation_size('users'))")"
# shellcheck disable=SC2154 # tmp is set by tests/lib/pg.sh, which lib.sh sources
cd "$tmp" || exit 1
if [[ -z $file ]]; then
    file=$tmp/seed.sql
    printf -- '-- convoy:backfill last_login = created_at\nALTER TABLE users ADD COLUMN last_login timestamptz DEFAULT now() NOT NULL;\n' >"$file"
fi
echo "migration: $(grep -v '^\s*$' "$file" | tr '\n' ' ')"
args=(rehearse "$file" --db "$(db prod)" --staging "$(db staging)" --scale "$scale" --json --out "$tmp/r")
[[ -n $baseline ]] && args+=(--baseline psql)
t0=$(date +%s.%N)
"$CONVOY_BIN" "${args[@]}" >out.json 2>err.txt || { echo "convoy rehearse failed: $(tail -20 err.txt)"; exit 1; }
echo "rehearse took $(echo "$(date +%s.%N) - $t0" | bc) s"
jq -r '.generation[] | "generation \(.table): \(.rows) rows in \(.generate_ms) ms = \(.generate_rows_per_s | floor) rows/s; INSERT ... SELECT of the same rows: \(.insert_select_ms) ms = \(.insert_select_rows_per_s | floor) rows/s; ratio \(.ratio * 1000 | floor / 1000)"' out.json
jq -r '.statistics[] | select(.table == "users") | .columns[] | "  \(.column): null_frac \(.prod_null_frac) / \(.staging_null_frac), n_distinct \(.prod_n_distinct) / \(.staging_n_distinct)\(if .mcv_top then ", MCVs \(.mcv_shared) of \(.mcv_top)" else "" end), ok \(.null_frac_ok and .n_distinct_ok and (.mcv_ok != false))"' out.json
jq -r '.phases[] | "\(.name): \(.result), \(.duration_ms) ms, WAL \(.wal_bytes) B, longest write-blocking hold \(.max_block_ms) ms, longest wait behind it \(.max_wait_ms) ms; latency p50/p99/max before \(.latency.before.p50_ms)/\(.latency.before.p99_ms)/\(.latency.before.max_ms), during \(.latency.during.p50_ms)/\(.latency.during.p99_ms)/\(.latency.during.max_ms), after \(.latency.after.p50_ms)/\(.latency.after.p99_ms)/\(.latency.after.max_ms) ms; \(.transactions) transactions"' out.json
jq -r '.phases[] | .name as $n | .locks[] | select(.blocks_writes) | "  \($n): \(.mode) on \(.table) held \(.held_ms) ms"' out.json
jq -r '.phases[-1].steps[] | select(.kind == "backfill" and .rows > 0) | "backfill: \(.rows) rows in \(.ms) ms = \(.rows_per_s | floor) rows/s"' out.json
jq -r '"risk: \(.risk.score) (\(.risk.level)): \(.risk.reasons | join("; "))"' out.json
cp "$tmp"/r.* /tmp/ 2>/dev/null && echo "reports copied to /tmp/r.md, /tmp/r.html, /tmp/r.json"
