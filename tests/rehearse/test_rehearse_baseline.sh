#!/usr/bin/env bash
# test_rehearse_baseline.sh (ctest rehearse_baseline): issue 9, must-show 2. A volatile-default
# ADD COLUMN run as written by psql rewrites `users` under ACCESS EXCLUSIVE: the rehearsal's
# baseline (--baseline psql, on its own copy) shows that lock held for most of a second or
# more and the traffic stalled behind it; convoy's run of the same file, on a fresh copy,
# shows no write-blocking lock held over lock_timeout (50 ms) and nobody waiting longer.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
N=${REHEARSE_ROWS:-300000}

start_pg
make_prod "$N"
cd "$tmp" || exit 1
cat >volatile.sql <<'SQL'
ALTER TABLE users ADD COLUMN last_login timestamptz DEFAULT clock_timestamp() NOT NULL;
SQL
rc=0
"$convoy" rehearse volatile.sql --baseline psql --db "$(db prod)" --staging "$(db staging)" \
    --json --out "$tmp/r" >out.json 2>err.txt || rc=$?
((rc == 0)) || { fail "convoy rehearse exited $rc: $(tail -c 1500 err.txt)"; exit 1; }

jq -e '(.phases | length) == 2 and .phases[0].name == "baseline (psql)" and .phases[1].name == "convoy"' out.json >/dev/null ||
    { fail "expected a baseline and a convoy run: $(jq -c '[.phases[] | {name, result}]' out.json)"; exit 1; }
jq -e '.phases[0].result == "done" and .phases[1].result == "done"' out.json >/dev/null ||
    fail "a run failed: $(jq -c '[.phases[] | {name, result, message}]' out.json)"

# the baseline: ACCESS EXCLUSIVE held (the rewrite), other sessions waiting behind it, the
# traffic's worst latency about as long
ae=$(jq '[.phases[0].locks[] | select(.mode == "ACCESS EXCLUSIVE") | .held_ms] | max // 0' out.json)
wait=$(jq '.phases[0].max_wait_ms' out.json)
stall=$(jq '.phases[0].latency.during.max_ms // 0' out.json)
echo "baseline (psql): ACCESS EXCLUSIVE held $ae ms, longest wait behind it $wait ms, traffic max latency $stall ms" >&2
awk -v v="$ae" 'BEGIN { exit !(v >= 300) }' || fail "baseline: ACCESS EXCLUSIVE held only $ae ms"
awk -v v="$wait" 'BEGIN { exit !(v >= 200) }' || fail "baseline: sessions waited only $wait ms behind it"
awk -v v="$stall" 'BEGIN { exit !(v >= 200) }' || fail "baseline: the traffic's worst latency was only $stall ms"
grep -q 'ACCESS EXCLUSIVE' "$tmp/r.md" || fail "the report does not show the lock"

# convoy: no write-blocking lock over lock_timeout, nobody waited longer than that (a hold
# seen in one 50 ms sample counts as 25 ms: the sampler's resolution)
lt=50
jq -e --argjson lt "$lt" '[.phases[1].locks[] | select(.blocks_writes and .held_ms > $lt)] | length == 0' out.json >/dev/null ||
    fail "convoy held a write-blocking lock over $lt ms: $(jq -c '[.phases[1].locks[] | select(.blocks_writes)]' out.json)"
cwait=$(jq '.phases[1].max_wait_ms' out.json)
echo "convoy: write-blocking locks seen: $(jq -c '[.phases[1].locks[] | select(.blocks_writes) | {mode, held_ms}]' out.json), longest wait behind them $cwait ms, traffic max latency $(jq '.phases[1].latency.during.max_ms' out.json) ms" >&2
awk -v v="$cwait" -v lt="$lt" 'BEGIN { exit !(v <= lt) }' || fail "convoy: a session waited $cwait ms behind convoy (over lock_timeout $lt ms)"
rows=$(jq '[.phases[1].steps[] | select(.kind == "backfill") | .rows] | max' out.json)
[[ $rows == "$N" ]] || fail "convoy's backfill covered $rows rows, expected $N"

if ((failures > 0)); then
    KEEP=1
    exit 1
fi
echo "rehearse_baseline: ok ($N rows)"
