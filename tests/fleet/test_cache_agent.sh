#!/usr/bin/env bash
# test_cache_agent.sh: convoy-agent with role = cache against a real PostgreSQL 15 and a real
# redis-server, both started here in a temp dir (and stopped by the trap).
#
#   tests/fleet/test_cache_agent.sh BUILD_DIR
#
# The outbox table is created with the DDL of coordinator/engine/state.c; rows are inserted
# by hand, as a backfill batch would. A stand-in coordinator (convoy-reportsink) keeps the
# agent's newest REPORT, so redis_ok, cache_pending and cache_confirmed are asserted too.
# Every assertion reads the database (psql) or Redis (redis-cli): two passes (first_at, then
# confirmed_at at least second_pass later, and the stale value a reader put back between
# them is gone), bump, purge (exactly the pattern's keys, rate-limited), Redis down and back,
# an error reply, kill -9 between passes and in the middle of a backlog, two agents at once.
#
# Exit 0 when all pass, 1 otherwise, 77 when redis-server or PostgreSQL is missing (skip).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="$(cd "${1:?usage: test_cache_agent.sh BUILD_DIR}" && pwd)"
# shellcheck source=tests/fleet/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
AGENT="$BUILD/agent/convoy-agent"
SINK="$BUILD/tests/fleet/convoy-reportsink"

skip() {
  echo "test_cache_agent: $*: skipped"
  [[ -n "${CONVOY_TEST_NO_SKIP:-}" ]] && exit 1
  exit 77
}
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || skip "redis-server or redis-cli not found"
PG_BIN="$(pg_config --bindir 2>/dev/null || true)"
[[ -x "$PG_BIN/initdb" ]] || PG_BIN=/usr/lib/postgresql/15/bin
[[ -x "$PG_BIN/initdb" && -x "$PG_BIN/pg_ctl" && -x "$PG_BIN/psql" ]] || skip "PostgreSQL server binaries not found"
[[ -x "$AGENT" && -x "$SINK" ]] || {
  echo "test_cache_agent: build convoy-agent and convoy-reportsink in $BUILD first"
  exit 1
}

WORK="$(mktemp -d /tmp/cvca.XXXXXX)"
chmod 755 "$WORK"
AGENT_PID=""
AGENT2_PID="" # the two_agents case's second agent
SINK_PID=""
REDIS_UP=0
PG_UP=0
FAILED=()
CASE=setup
RUNUSER=()
if [[ "$(id -u)" -eq 0 ]]; then
  id postgres >/dev/null 2>&1 || skip "running as root without a postgres user"
  RUNUSER=(runuser -u postgres --)
fi

log() { printf 'test_cache_agent: %s\n' "$*"; }
fail() {
  log "FAIL [$CASE]: $*"
  FAILED+=("$CASE: $*")
  return 1
}
ok() { log "ok   [$CASE]: $*"; }

stop_pid() { # stop_pid PID: SIGTERM, then SIGKILL after 5 s
  if [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null; then
    kill -TERM "$1" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$1" 2>/dev/null || true
  fi
  [[ -n "$1" ]] && wait "$1" 2>/dev/null
}
stop_agent() {
  stop_pid "$AGENT_PID"
  AGENT_PID=""
}

cleanup() {
  local rc=$?
  stop_agent
  stop_pid "$AGENT2_PID"
  if [[ -n "$SINK_PID" ]]; then
    kill -TERM "$SINK_PID" 2>/dev/null
    wait "$SINK_PID" 2>/dev/null
  fi
  ((REDIS_UP)) && redis_cli shutdown nosave >/dev/null 2>&1
  ((PG_UP)) && (cd / && "${RUNUSER[@]}" "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m immediate -w stop >/dev/null 2>&1)
  if ((rc != 0 || ${#FAILED[@]})); then
    for f in "$WORK"/agent-*.log; do
      [[ -f "$f" ]] || continue
      echo "---- tail $f"
      tail -n "${CONVOY_TEST_LOG_LINES:-30}" "$f"
    done
  fi
  # under ASan/UBSan: any report in an agent's log fails the run
  if sanitizer_reports "$WORK"; then
    log "FAIL: a sanitizer report in the logs above"
    rc=1
  fi
  rm -rf "$WORK"
  if ((${#FAILED[@]})); then
    log "${#FAILED[@]} failure(s):"
    printf '  %s\n' "${FAILED[@]}"
    exit 1
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM



PGPORT="$(free_port 57000 1000)"
RPORT="$(free_port 57000 1000)"
while [[ "$RPORT" == "$PGPORT" ]]; do RPORT="$(free_port 57000 1000)"; done
SPORT="$(free_port 57000 1000)"
while [[ "$SPORT" == "$PGPORT" || "$SPORT" == "$RPORT" ]]; do SPORT="$(free_port 57000 1000)"; done
PASSWORD="pw-$RANDOM$RANDOM-not-in-any-log"
RDB=3 # the agent's Redis database; db 0 holds look-alike keys that must survive

psql_p() { psql -X -q -v ON_ERROR_STOP=1 -At -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres "$@"; }
q() { psql_p -c "$*"; }
redis_cli() { REDISCLI_AUTH="$PASSWORD" redis-cli -h 127.0.0.1 -p "$RPORT" --no-auth-warning "$@"; }
rc() { redis_cli -n "$RDB" "$@"; }

redis_start() {
  redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK/redis" \
    --requirepass "$PASSWORD" --daemonize yes --pidfile "$WORK/redis/redis.pid" \
    --logfile "$WORK/redis/redis.log" || return 1
  wait_for 10 rc ping || return 1
  REDIS_UP=1
}
redis_stop() {
  redis_cli shutdown nosave >/dev/null 2>&1
  REDIS_UP=0
  wait_for 10 bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$RPORT) 2>/dev/null"
}
# fill PREFIX FROM TO VALUE: SET PREFIX{FROM..TO} VALUE in the agent's database
fill() {
  local i
  for ((i = $2; i <= $3; i++)); do printf 'SET %s%d %s\n' "$1" "$i" "$4"; done |
    redis_cli -n "${5:-$RDB}" --pipe >/dev/null
}
count_keys() { rc --scan --pattern "$1" | wc -l; } # SCAN, never KEYS
cmdstat() { # cmdstat NAME: calls of a Redis command since the start (0 never)
  local n
  n="$(redis_cli info commandstats | tr -d '\r' | sed -n "s/^cmdstat_$1:calls=\([0-9]*\),.*/\1/p")"
  echo "${n:-0}"
}

agent_start() { # agent_start LOGNAME
  "$AGENT" --config "$WORK/agent.ini" >>"$WORK/agent-$1.log" 2>&1 &
  AGENT_PID=$!
}
report() { sed -n 's/^report //p' "$WORK/sink.txt" 2>/dev/null; }
report_has() { report | grep -q -- "$1"; }
pending() { q "SELECT count(*) FROM convoy.invalidations WHERE confirmed_at IS NULL"; }
all_confirmed() { [[ "$(pending)" == 0 ]]; }
confirmed() { [[ "$(q "SELECT confirmed_at IS NOT NULL FROM convoy.invalidations WHERE id = $1")" == t ]]; }
first_done() { [[ "$(q "SELECT first_at IS NOT NULL FROM convoy.invalidations WHERE id = $1")" == t ]]; }
insert_keys() { # insert_keys MIGRATION PREFIX FROM TO: one key row; prints its id
  q "INSERT INTO convoy.invalidations (migration, step, kind, keys) SELECT '$1', 1, 'key', array_agg('$2' || g ORDER BY g) FROM generate_series($3, $4) AS g RETURNING id"
}

# ---- servers ---------------------------------------------------------------------
mkdir -p "$WORK/pg" "$WORK/redis"
[[ ${#RUNUSER[@]} -gt 0 ]] && chown postgres: "$WORK/pg"
log "PostgreSQL on port $PGPORT, Redis on $RPORT, the report sink on $SPORT, in $WORK"
(cd / && "${RUNUSER[@]}" "$PG_BIN/initdb" -D "$WORK/pg/data" -U postgres -A trust -E UTF8 --no-locale >"$WORK/initdb.log" 2>&1) ||
  { cat "$WORK/initdb.log"; fail "initdb"; exit 1; }
(cd / && "${RUNUSER[@]}" "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/log" -w -t 60 \
  -o "-p $PGPORT -k $WORK/pg -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null 2>&1) ||
  { cat "$WORK/pg/log"; fail "pg_ctl start"; exit 1; }
PG_UP=1
redis_start || { fail "redis-server did not start"; exit 1; }

printf '%s\n' "$PASSWORD" >"$WORK/redis.pass"
chmod 600 "$WORK/redis.pass"
cat >"$WORK/agent.ini" <<EOF
[agent]
node = cache-1
role = cache
conninfo = host=127.0.0.1 port=$PGPORT user=postgres dbname=postgres
coordinators = tcp://127.0.0.1:$SPORT
insecure = true
heartbeat = 100ms
redis = redis://127.0.0.1:$RPORT/$RDB
redis_password_file = redis.pass
second_pass = 1s
purge_rate = 10
EOF
"$SINK" "tcp://127.0.0.1:$SPORT" "$WORK/sink.txt" >"$WORK/sink.log" 2>&1 &
SINK_PID=$!

# ---- no outbox yet: quietly nothing ------------------------------------------------
CASE=no_table
agent_start 1
# (a loaded CI machine can take a while to bring the sink and the agent's connection up)
wait_for 60 report_has "role=cache db_ok=1 redis_ok=1 cache_pending=0 cache_confirmed=0" ||
  fail "no healthy cache REPORT: $(report); sink: $(tail -3 "$WORK/sink.log" 2>&1)"
grep -q "hello node=cache-1 roles=cache capabilities=cache" "$WORK/sink.txt" ||
  fail "HELLO: $(sed -n 1p "$WORK/sink.txt")"
sleep 0.5
if grep -E "WARN|ERROR" "$WORK/agent-1.log" | grep -v "coordinator tcp" | grep -q .; then
  fail "warnings without the outbox table: $(grep -E "WARN|ERROR" "$WORK/agent-1.log" | head -3)"
else
  ok "no convoy.invalidations: no warnings, REPORT role=cache redis_ok=1 cache_pending=0"
fi
got="$(q "SELECT string_agg(application_name, ',') FROM pg_stat_activity WHERE application_name LIKE 'convoy%'")"
[[ "$got" == "convoy-agent cache-1" ]] && ok "pg_stat_activity names the session: application_name 'convoy-agent cache-1'" ||
  fail "the agent's session in pg_stat_activity: '$got'"

# the outbox and its notify trigger, exactly as the coordinator's state schema creates them
DDL="$(awk '/CREATE TABLE IF NOT EXISTS convoy.invalidations/,/EXECUTE FUNCTION convoy.outbox_notify/' \
  "$ROOT/coordinator/engine/state.c" | sed -E 's/^[[:space:]]*"//; s/"[[:space:]]*$//' |
  tr -d '\n' | sed 's/\\n/\n/g')"
[[ "$DDL" == *"CREATE TABLE IF NOT EXISTS convoy.invalidations"*"invalidations_pending"*"outbox_notify();" ]] ||
  { fail "cannot read the outbox DDL from state.c"; exit 1; }
q "CREATE SCHEMA convoy" && psql_p -c "$DDL" || { fail "creating the outbox"; exit 1; }

# ---- key, bump and purge ---------------------------------------------------------
CASE=passes
fill user: 1 6000 v
fill user-list: 1 3000 x
fill user: 1 10 db0 0 # look-alikes in another database: untouched
rc set user-lists keep >/dev/null
rc set other-list:1 keep >/dev/null
rc set users:version 41 >/dev/null
for k in 'we,ird {key} "q"' 'back\slash' 'NULL' 'sp ace' 'ünï' '{}'; do rc set "$k" 1 >/dev/null; done
unlink0="$(cmdstat unlink)"
psql_p <<'EOF' || fail "inserting rows"
BEGIN;
INSERT INTO convoy.invalidations (migration, step, kind, keys)
  SELECT 'm1', 1, 'key', array_agg('user:' || g ORDER BY g) FROM generate_series(1, 5000) AS g;
INSERT INTO convoy.invalidations (migration, step, kind, keys)
  VALUES ('m1', 1, 'key', ARRAY['we,ird {key} "q"', 'back\slash', 'NULL', 'sp ace', 'ünï', '{}', NULL, 'nosuch']),
         ('m1', 2, 'bump', ARRAY['users:version', 'fresh:version']),
         ('m1', 2, 'purge', ARRAY['user-list:*']);
COMMIT;
EOF
wait_for 30 all_confirmed || fail "rows still pending: $(q "SELECT id, kind, attempts, last_error FROM convoy.invalidations WHERE confirmed_at IS NULL")"
got="$(q "SELECT string_agg(format('%s:%s:%s:%s', kind, removed, first_at IS NOT NULL, confirmed_at - first_at >= interval '1s'), ' ' ORDER BY id) FROM convoy.invalidations WHERE migration = 'm1'")"
[[ "$got" == "key:5000:t:t key:6:t:t bump:0:f: purge:3000:f:" ]] &&
  ok "first_at, then confirmed_at a second_pass later; removed: 5000, 6 (NULL skipped), purge 3000" ||
  fail "rows: $got"
got="$(q "SELECT string_agg(format('%s:%s', kind, CASE WHEN claimed_at IS NULL THEN 'null' WHEN claimed_at BETWEEN created_at AND first_at THEN 'ok' ELSE 'bad' END), ' ' ORDER BY id) FROM convoy.invalidations WHERE migration = 'm1'")"
[[ "$got" == "key:ok key:ok bump:null purge:null" ]] &&
  ok "claimed_at: the first pass's claim began after the row was written and before first_at" ||
  fail "claimed_at: $got"
[[ "$(q "SELECT string_agg(DISTINCT agent, ',') FROM convoy.invalidations WHERE migration = 'm1'")" == cache-1 ]] ||
  fail "agent column: $(q "SELECT string_agg(DISTINCT coalesce(agent, '-'), ',') FROM convoy.invalidations")"
n_user="$(count_keys 'user:*')"
[[ "$n_user" == 1000 && "$(rc exists user:5001 user:6000)" == 2 && "$(rc exists user:1 user:5000)" == 0 ]] &&
  ok "every listed key is gone, user:5001..6000 remain" || fail "user:* left: $n_user"
weird="$(rc exists 'we,ird {key} "q"' 'back\slash' 'NULL' 'sp ace' 'ünï' '{}')"
[[ "$weird" == 0 ]] && ok "keys with , { } \" \\ spaces, NULL and UTF-8 gone (binary-safe argv)" || fail "$weird odd keys remain"
[[ "$(redis_cli -n 0 --scan --pattern 'user:*' | wc -l)" == 10 ]] && ok "db 0 untouched (SELECT $RDB)" || fail "db 0 lost keys"
[[ "$(rc get users:version)" == 42 && "$(rc get fresh:version)" == 1 ]] && ok "bump: INCR 41 -> 42, a new key -> 1" ||
  fail "bump: users:version=$(rc get users:version) fresh:version=$(rc get fresh:version)"
[[ "$(count_keys 'user-list:*')" == 0 && "$(rc exists user-lists other-list:1)" == 2 ]] &&
  ok "purge removed exactly user-list:* (3000), user-lists and other-list:1 remain" ||
  fail "purge: $(count_keys 'user-list:*') user-list:* left, $(rc exists user-lists other-list:1)/2 others"
unlinks=$(($(cmdstat unlink) - unlink0))
# 5000 keys at most 1000 a command: >= 5 UNLINKs a pass for that row alone
((unlinks >= 12)) && ok "$unlinks UNLINK commands (at most 1000 keys each)" || fail "only $unlinks UNLINK commands"
wait_for 5 report_has "redis_ok=1 cache_pending=0 cache_confirmed=4" && ok "REPORT cache_confirmed=4 cache_pending=0" ||
  fail "REPORT: $(report)"

# ---- a batch's layout (rows x key templates) and an empty array -----------------------
CASE=shapes
fill twod: 1 5000 v
id2="$(q "INSERT INTO convoy.invalidations (migration, step, kind, keys) SELECT 'm1s', 1, 'key', array_agg(ARRAY['twod:' || g, 'twod:' || (g + 2500)] ORDER BY g) FROM generate_series(1, 2500) g RETURNING id")"
id0="$(q "INSERT INTO convoy.invalidations (migration, step, kind, keys) VALUES ('m1s', 1, 'key', '{}') RETURNING id")"
wait_for 30 confirmed "$id2" && wait_for 5 confirmed "$id0" || fail "rows still pending: $(q "SELECT id, attempts, last_error FROM convoy.invalidations WHERE migration = 'm1s' AND confirmed_at IS NULL")"
got="$(q "SELECT string_agg(removed::text, ' ' ORDER BY id) FROM convoy.invalidations WHERE migration = 'm1s'")"
[[ "$got" == "5000 0" && "$(count_keys 'twod:*')" == 0 ]] &&
  ok "a 2,500 x 2 array: 5000 keys removed, none left; an empty array is confirmed" ||
  fail "removed: $got, twod:* left: $(count_keys 'twod:*')"

# ---- the second pass closes the race ----------------------------------------------
CASE=second_pass
fill race: 1 500 fresh
id="$(insert_keys m2 race: 1 500)"
wait_for 10 first_done "$id" || fail "no first pass"
[[ "$(count_keys 'race:*')" == 0 ]] || fail "first pass left keys"
fill race: 1 200 stale # a reader that missed the cache put old values back
confirmed "$id" && fail "confirmed before second_pass"
wait_for 10 confirmed "$id" || fail "no second pass"
[[ "$(count_keys 'race:*')" == 0 && "$(q "SELECT removed FROM convoy.invalidations WHERE id = $id")" == 700 ]] &&
  ok "the stale values put back between the passes are gone (removed = 500 + 200)" ||
  fail "race:* left $(count_keys 'race:*'), removed $(q "SELECT removed FROM convoy.invalidations WHERE id = $id")"

# ---- a new batch's first pass goes before an older row's second pass ---------------
CASE=priority
# the agent must be stopped before the row's second pass is due (second_pass = 1 s), or it
# may have claimed that pass already; on a loaded machine the stop can come late: retry
for try in 1 2 3; do
  fill prio: 1 100010 v
  ida="$(insert_keys m2p prio: 1 100000)"
  wait_for 30 first_done "$ida" || fail "no first pass of the 100,000-key row"
  kill -STOP "$AGENT_PID"
  age="$(q "SELECT round(extract(epoch FROM clock_timestamp() - first_at) * 1000) FROM convoy.invalidations WHERE id = $ida")"
  ((age < 700)) && break
  kill -CONT "$AGENT_PID"
  wait_for 30 confirmed "$ida" || fail "row $ida: no second pass"
  log "note [$CASE]: stopped the agent $age ms after the first pass (try $try); again"
  ((try == 3)) && fail "could not stop the agent within 700 ms of a first pass in 3 tries"
done
sleep 1.3 # that row's second pass is due, then a new row comes
idb="$(insert_keys m2p prio: 100001 100010)"
kill -CONT "$AGENT_PID"
{ wait_for 30 confirmed "$ida" && wait_for 30 first_done "$idb"; } || fail "rows pending: $(q "SELECT id, attempts, last_error FROM convoy.invalidations WHERE migration = 'm2p' AND confirmed_at IS NULL")"
# in one claim both would be recorded by the same UPDATE, a few microseconds apart
got="$(q "SELECT round(extract(epoch FROM a.confirmed_at - b.first_at) * 1000) FROM convoy.invalidations a, convoy.invalidations b WHERE a.id = $ida AND b.id = $idb")"
[[ $got =~ ^[0-9]+$ ]] && ((got >= 5)) &&
  ok "the new row's first pass was recorded $got ms before the older row's second pass (100,000 keys)" ||
  fail "the new row's first_at is not before the older row's confirmed_at by 5 ms or more: '$got' ms"

# ---- purge, rate-limited -----------------------------------------------------------
CASE=purge_rate
fill big: 1 40000 x
scan0="$(cmdstat scan)"
t0="$(date +%s%N)"
id="$(q "INSERT INTO convoy.invalidations (migration, step, kind, keys) VALUES ('m3', 9, 'purge', ARRAY['big:*', 'nomatch:*']) RETURNING id")"
wait_for 60 confirmed "$id" || fail "purge not confirmed: $(q "SELECT removed, attempts, last_error FROM convoy.invalidations WHERE id = $id")"
ms=$((($(date +%s%N) - t0) / 1000000))
scans=$(($(cmdstat scan) - scan0))
# at most purge_rate (10) SCAN calls in any second: n calls take at least (n - 10) / 10 s
[[ "$(count_keys 'big:*')" == 0 && "$(q "SELECT removed FROM convoy.invalidations WHERE id = $id")" == 40000 ]] ||
  fail "big:* left $(count_keys 'big:*'), removed $(q "SELECT removed FROM convoy.invalidations WHERE id = $id")"
((scans >= 40 && ms >= (scans - 10) * 100)) && ok "$scans SCAN calls took $ms ms (purge_rate = 10/s), 40000 removed" ||
  fail "$scans SCAN calls in $ms ms: faster than purge_rate = 10"
[[ "$(rc exists user:5001 users:version other-list:1)" == 3 ]] || fail "the purge took unrelated keys"

# the restart below resets Redis' command statistics: check them now too
[[ "$(cmdstat keys)" == 0 && "$(cmdstat del)" == 0 ]] || fail "KEYS $(cmdstat keys), DEL $(cmdstat del) before the restart"

# ---- Redis down between the passes, and back -----------------------------------------
CASE=redis_down
fill down: 1 2000 v
id="$(insert_keys m4 down: 1 2000)"
wait_for 10 first_done "$id" || fail "no first pass"
redis_stop || fail "redis did not stop"
bump="$(q "INSERT INTO convoy.invalidations (migration, step, kind, keys) VALUES ('m4', 2, 'bump', ARRAY['m4:version']) RETURNING id")"
attempted() { [[ "$(q "SELECT min(attempts) FROM convoy.invalidations WHERE id IN ($id, $bump)")" -ge 2 ]]; }
wait_for 20 attempted || fail "no attempts recorded: $(q "SELECT id, attempts, last_error FROM convoy.invalidations WHERE id IN ($id, $bump)")"
wait_for 5 report_has "redis_ok=0" || fail "REPORT while Redis is down: $(report)"
got="$(q "SELECT string_agg(format('%s:%s', confirmed_at IS NULL, last_error LIKE 'redis: %'), ' ' ORDER BY id) FROM convoy.invalidations WHERE id IN ($id, $bump)")"
[[ "$got" == "t:t t:t" ]] && ok "rows stay pending with attempts and last_error; REPORT redis_ok=0: $(report | sed 's/.*redis_error=//')" ||
  fail "rows while down: $got"
report_has "cache_pending=2" || fail "cache_pending while down: $(report)"
sleep 1
n_down="$(grep -c "redis redis://127.0.0.1:$RPORT/$RDB: down" "$WORK/agent-1.log")"
[[ "$n_down" == 1 ]] && ok "one 'down' log line" || fail "$n_down 'down' lines"
redis_start || fail "redis did not restart"
fill down: 1 300 stale # refilled by readers while Redis was away (its data was not saved)
rc set m4:version 7 >/dev/null
wait_for 20 all_confirmed || fail "rows still pending after Redis came back"
[[ "$(count_keys 'down:*')" == 0 && "$(rc get m4:version)" == 8 ]] && ok "after Redis came back: second pass done, INCR done" ||
  fail "down:* left $(count_keys 'down:*'), m4:version $(rc get m4:version)"
n_up="$(grep -c "redis redis://127.0.0.1:$RPORT/$RDB: up again" "$WORK/agent-1.log")"
[[ "$n_up" == 1 ]] && ok "one 'up again' log line" || fail "$n_up 'up again' lines"
wait_for 5 report_has "redis_ok=1 cache_pending=0" || fail "REPORT after recovery: $(report)"

# ---- an error reply: fail closed, then recover ------------------------------------------
CASE=error_reply
rc rpush wrong:version a >/dev/null
id="$(q "INSERT INTO convoy.invalidations (migration, step, kind, keys) VALUES ('m5', 2, 'bump', ARRAY['wrong:version']) RETURNING id")"
wrongtype() { [[ "$(q "SELECT last_error FROM convoy.invalidations WHERE id = $id")" == *WRONGTYPE* ]]; }
wait_for 10 wrongtype || fail "no WRONGTYPE in last_error: $(q "SELECT attempts, last_error FROM convoy.invalidations WHERE id = $id")"
confirmed "$id" && fail "a bump that failed was confirmed"
wait_for 5 report_has "redis_ok=0" && ok "WRONGTYPE: row pending, last_error says why, REPORT redis_ok=0" || fail "REPORT: $(report)"
retried() { (($(q "SELECT attempts FROM convoy.invalidations WHERE id = $id") >= 3)); }
wait_for 20 retried || fail "not retried: $(q "SELECT attempts FROM convoy.invalidations WHERE id = $id") attempts"
rc set wrong:version 1 >/dev/null # the operator fixes the key
wait_for 20 confirmed "$id" || fail "not confirmed after the fix"
[[ "$(rc get wrong:version)" == 2 ]] && ok "after the fix: INCR done, confirmed" || fail "wrong:version = $(rc get wrong:version)"
wait_for 5 report_has "redis_ok=1" || fail "REPORT after the fix: $(report)"
n_wrong="$(grep -c "WARN .*WRONGTYPE" "$WORK/agent-1.log")"
n_again="$(grep -c "the outbox works again" "$WORK/agent-1.log")"
[[ "$n_wrong" == 1 && "$n_again" == 1 ]] && ok "$(q "SELECT attempts FROM convoy.invalidations WHERE id = $id") attempts, one WRONGTYPE warning, one 'works again' line" ||
  fail "$n_wrong WRONGTYPE warnings, $n_again 'works again' lines"

# a clean stop (under ASan: its leak check covers Redis down, back and the error reply)
stop_agent
grep -q "INFO .* stopped" "$WORK/agent-1.log" || fail "the agent did not stop on SIGTERM"
agent_start 2

# ---- kill -9 between the passes --------------------------------------------------------
CASE=kill9
fill k9: 1 1000 v
id="$(insert_keys m6 k9: 1 1000)"
wait_for 10 first_done "$id" || fail "no first pass"
kill -KILL "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
AGENT_PID=""
fill k9: 1 100 stale
agent_start 3
wait_for 20 confirmed "$id" || fail "not confirmed after the restart"
[[ "$(count_keys 'k9:*')" == 0 && "$(q "SELECT removed FROM convoy.invalidations WHERE id = $id")" == 1100 ]] &&
  ok "killed between the passes: the restarted agent did the second pass (removed 1000 + 100)" ||
  fail "k9:* left $(count_keys 'k9:*'), removed $(q "SELECT removed FROM convoy.invalidations WHERE id = $id")"

# kill -9 at random moments while a backlog drains: nothing is lost
# (50000 unrelated keys make the purge's scan take ~5 s at 10 SCAN/s; each restart scans
# again from the start)
fill bl: 1 60000 v
fill blp: 1 5000 v
fill noise: 1 50000 v
q "INSERT INTO convoy.invalidations (migration, step, kind, keys) SELECT 'm7', 1, 'key', array_agg('bl:' || g ORDER BY g) FROM generate_series(1, 60000) AS g GROUP BY (g - 1) / 500" >/dev/null
q "INSERT INTO convoy.invalidations (migration, step, kind, keys) VALUES ('m7', 2, 'purge', ARRAY['blp:*'])" >/dev/null
busy=0
for i in 1 2 3 4 5; do
  sleep "0.$((RANDOM % 6 + 2))"
  [[ "$(pending)" != 0 ]] && busy=$((busy + 1))
  kill -KILL "$AGENT_PID"
  wait "$AGENT_PID" 2>/dev/null
  agent_start 3
done
wait_for 90 all_confirmed || fail "$(pending) rows still pending after the kills"
((busy >= 3)) || fail "only $busy of the 5 kills came while rows were pending"
[[ "$(count_keys 'bl:*')" == 0 && "$(count_keys 'blp:*')" == 0 && "$(count_keys 'noise:*')" == 50000 ]] &&
  ok "5 kill -9 during a 121-row backlog ($busy with rows pending): all rows confirmed, every key gone, noise:* kept" ||
  fail "bl:* left: $(count_keys 'bl:*'), blp:* left: $(count_keys 'blp:*'), noise:* $(count_keys 'noise:*')"

# ---- reload, and what Redis and the logs saw -------------------------------------------
CASE=reload
sed -i 's/^second_pass = .*/second_pass = 300ms/' "$WORK/agent.ini"
kill -HUP "$AGENT_PID"
wait_for 5 grep -q "reload: second_pass 300 ms" "$WORK/agent-3.log" && ok "SIGHUP: second_pass 300 ms" || fail "no reload line"
fill rl: 1 10 v
id="$(insert_keys m8 rl: 1 10)"
wait_for 10 confirmed "$id" || fail "not confirmed after the reload"
# a new password: in the file and on the server, then SIGHUP (existing connections stay)
OLD_PASSWORD="$PASSWORD"
NEW_PASSWORD="pw2-$RANDOM$RANDOM-not-in-any-log"
printf '%s\n' "$NEW_PASSWORD" >"$WORK/redis.pass"
redis_cli config set requirepass "$NEW_PASSWORD" >/dev/null
PASSWORD="$NEW_PASSWORD"
kill -HUP "$AGENT_PID"
wait_for 5 grep -q "reload: redis_password_file changed; reconnecting to Redis" "$WORK/agent-3.log" ||
  fail "no reconnect line"
fill rot: 1 10 v
id="$(insert_keys m9 rot: 1 10)"
wait_for 10 confirmed "$id" && [[ "$(count_keys 'rot:*')" == 0 ]] &&
  ok "password rotated: SIGHUP reconnects with the new one, rows confirmed" || fail "not confirmed after the rotation"

# ---- a write to the outbox wakes the agent (LISTEN), also after a database restart ----------
CASE=notify
stop_agent
sed -i 's/^heartbeat = .*/heartbeat = 10s/' "$WORK/agent.ini"
agent_start 4
wait_for 30 grep -q "database: connected" "$WORK/agent-4.log" || fail "agent 4 did not connect"
sleep 0.5
# lag_ms ID: first_at - created_at of the row, in ms
lag_ms() { q "SELECT round(extract(epoch FROM first_at - created_at) * 1000) FROM convoy.invalidations WHERE id = $1"; }
notify_trials() { # notify_trials TAG: three rows, each must be worked long before the 10 s tick
  local i id lag lags=""
  for i in 1 2 3; do
    fill "nt$1$i:" 1 100 v
    id="$(insert_keys "m10$1$i" "nt$1$i:" 1 100)"
    wait_for 15 first_done "$id" || { echo "row $id: no first pass"; return 1; }
    lag="$(lag_ms "$id")"
    lags="$lags $lag"
    ((lag < 1000)) || { echo "row $id waited $lag ms (the tick is 10 s)"; return 1; }
    sleep 0.3
  done
  echo "$lags"
}
if out="$(notify_trials a)"; then
  ok "heartbeat 10 s: 3 rows worked $out ms after their insert (woken by the notification)"
else
  fail "$out"
fi
(cd / && "${RUNUSER[@]}" "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m fast -w -t 60 restart >/dev/null 2>&1) ||
  fail "pg_ctl restart"
wait_for 30 bash -c "[[ \$(grep -c 'database: connected' '$WORK/agent-4.log') -ge 2 ]]" ||
  fail "agent 4 did not reconnect after the restart"
sleep 0.5
if out="$(notify_trials b)"; then
  ok "after a database restart (noticed on the LISTEN socket, not at the tick): 3 rows worked $out ms after their insert"
else
  fail "after the restart: $out"
fi

# ---- two cache agents on one outbox: every pass done once (FOR UPDATE SKIP LOCKED) ----------
CASE=two_agents
sed 's/^node = .*/node = cache-2/' "$WORK/agent.ini" >"$WORK/agent2.ini"
"$AGENT" --config "$WORK/agent2.ini" >>"$WORK/agent-two.log" 2>&1 &
AGENT2_PID=$!
wait_for 30 grep -q "database: connected" "$WORK/agent-two.log" || fail "the second agent did not connect"
fill two: 1 200000 v
# (every row is confirmed only after its UNLINKs' replies: none of them is still to count)
wait_for 10 all_confirmed || fail "rows of the cases above still pending"
unlink0="$(cmdstat unlink)"
# 400 rows of 500 keys in one transaction: one notification wakes both agents, which claim
# up to 50 rows at a time
q "INSERT INTO convoy.invalidations (migration, step, kind, keys) SELECT 'm11', 1, 'key', array_agg('two:' || g ORDER BY g) FROM generate_series(1, 200000) AS g GROUP BY (g - 1) / 500" >/dev/null
wait_for 60 all_confirmed || fail "$(pending) rows still pending"
got="$(q "SELECT count(*), sum(removed), count(*) FILTER (WHERE attempts > 0) FROM convoy.invalidations WHERE migration = 'm11'")"
unlinks=$(($(cmdstat unlink) - unlink0))
stop_pid "$AGENT2_PID" # its last progress line says what it did since the one before
AGENT2_PID=""
# the first passes agent 2 did (the `agent` column names the last pass's agent)
firsts="$(sed -n 's/.* outbox: .*(\([0-9]*\) first pass.*/\1/p' "$WORK/agent-two.log" | awk '{ n += $1 } END { print n + 0 }')"
# a pass done twice shows as more UNLINKs than 2 passes x 1 command (500 keys) a row
[[ "$got" == "400|200000|0" && "$unlinks" == 800 && "$(count_keys 'two:*')" == 0 ]] &&
  ok "two agents on one outbox: each row's two passes done once (800 UNLINKs for 400 rows), 200000 removed, no retry, every key gone" ||
  fail "rows|removed|retried $got, $unlinks UNLINKs (800 expected), $(count_keys 'two:*') keys left"
((firsts > 0 && firsts < 400)) && ok "they shared the work: the second agent did $firsts of the 400 first passes" ||
  fail "the second agent did $firsts of the 400 first passes (SKIP LOCKED: both expected to work)"

CASE=hygiene
[[ "$(cmdstat keys)" == 0 && "$(cmdstat del)" == 0 ]] && ok "no KEYS and no DEL ever reached Redis" ||
  fail "KEYS $(cmdstat keys), DEL $(cmdstat del)"
if grep -q -F -e "$OLD_PASSWORD" -e "$NEW_PASSWORD" "$WORK"/agent-*.log "$WORK/sink.txt"; then
  fail "a Redis password is in a log or a REPORT"
else
  ok "neither password is in any log or REPORT"
fi
grep -q "outbox: .* rows\? in .* batch" "$WORK/agent-1.log" || fail "no outbox progress line"
# at most one progress line a second (in one process's log), not counting the last one,
# which the agent writes when it stops whenever the previous one was
dups="$(awk '/: stopping$/ { stopping = 1 } / outbox: / && !stopping' "$WORK/agent-1.log" |
  grep "INFO " | cut -c1-20 | sort | uniq -d | wc -l)"
[[ "$dups" == 0 ]] && ok "at most one outbox line a second" || fail "$dups seconds with two outbox lines"
stop_agent
grep -q "INFO .* stopped" "$WORK/agent-4.log" || fail "the agent did not stop on SIGTERM"

((${#FAILED[@]} == 0)) && log "all cases passed"
