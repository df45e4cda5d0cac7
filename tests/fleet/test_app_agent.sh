#!/usr/bin/env bash
# test_app_agent.sh: convoy-agent with role = app against a stand-in coordinator
# (convoy-reportsink, which keeps the agent's newest HELLO and REPORT), and an error counter
# file that a background loop bumps at a known rate, as an app would.
#
#   tests/fleet/test_app_agent.sh BUILD_DIR
#
# Asserted on the wire (the REPORT's role, app_version, app_error_rate, db_ok, db_error) and
# in the agent's log: no counter file yet (-1, one warning), a steady count (0/s), 20
# errors/s, back to 0 when the bumping stops, the count going down (an app restart), a
# counter file that holds no integer (-1, one warning however many reports), SIGHUP with a
# new app_version and a new counter file (50 errors/s there), conninfo that cannot connect
# (db_ok = 0, the app fields still reported) and, when PostgreSQL is installed, one that can.
#
# Exit 0 when all pass, 1 otherwise.
set -uo pipefail

BUILD="$(cd "${1:?usage: test_app_agent.sh BUILD_DIR}" && pwd)"
# shellcheck source=tests/fleet/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
AGENT="$BUILD/agent/convoy-agent"
SINK="$BUILD/tests/fleet/convoy-reportsink"
[[ -x "$AGENT" && -x "$SINK" ]] || {
  echo "test_app_agent: build convoy-agent and convoy-reportsink in $BUILD first"
  exit 1
}

WORK="$(mktemp -d /tmp/cvapp.XXXXXX)"
chmod 755 "$WORK"
AGENT_PID=""
SINK_PID=""
BUMP_PID=""
PG_UP=0
FAILED=()
CASE=setup
RUNUSER=()
[[ "$(id -u)" -eq 0 ]] && RUNUSER=(runuser -u postgres --)
PG_BIN="$(pg_config --bindir 2>/dev/null || true)"
[[ -x "$PG_BIN/initdb" ]] || PG_BIN=/usr/lib/postgresql/15/bin

log() { printf 'test_app_agent: %s\n' "$*"; }
fail() {
  log "FAIL [$CASE]: $*"
  FAILED+=("$CASE: $*")
  return 1
}
ok() { log "ok   [$CASE]: $*"; }

bump_stop() {
  if [[ -n "$BUMP_PID" ]]; then
    kill "$BUMP_PID" 2>/dev/null
    wait "$BUMP_PID" 2>/dev/null
  fi
  BUMP_PID=""
}

AGENT_RC=""
stop_agent() {
  AGENT_RC=""
  if [[ -n "$AGENT_PID" ]] && kill -0 "$AGENT_PID" 2>/dev/null; then
    kill -TERM "$AGENT_PID" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$AGENT_PID" 2>/dev/null || true
  fi
  if [[ -n "$AGENT_PID" ]]; then
    wait "$AGENT_PID" 2>/dev/null
    AGENT_RC=$?
  fi
  AGENT_PID=""
}

cleanup() {
  local rc=$?
  bump_stop
  stop_agent
  if [[ -n "$SINK_PID" ]]; then
    kill -TERM "$SINK_PID" 2>/dev/null
    wait "$SINK_PID" 2>/dev/null
  fi
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



SPORT="$(free_port 58000 1000)"
DEAD_PORT="$(free_port 58000 1000)" # nobody listens there
while [[ "$DEAD_PORT" == "$SPORT" ]]; do DEAD_PORT="$(free_port 58000 1000)"; done

report() { sed -n 's/^report //p' "$WORK/sink.txt" 2>/dev/null; }
report_has() { report | grep -q -- "$1"; }
seq_of() { report | sed -n 's/.* seq=\([0-9]*\) .*/\1/p'; }
rate() { report | sed -n 's/.* app_error_rate=\([-0-9.]*\) .*/\1/p'; }
rate_is() { [[ "$(rate)" == "$1" ]]; }
agent_log() { cat "$WORK"/agent-*.log; }

# Writes COUNT to FILE the way an app should: a temp file renamed over it.
put_count() { printf '%s\n' "$2" >"$1.tmp" && mv -f "$1.tmp" "$1"; }

# bump_start FILE RATE BASE: from now on FILE holds BASE + RATE x the seconds elapsed, rewritten
# every ~20 ms (from the clock, so a late iteration does not change the rate).
bump_start() {
  (
    f="$1" r="$2" base="$3"
    t0="${EPOCHREALTIME/./}"
    while :; do
      now="${EPOCHREALTIME/./}"
      put_count "$f" "$((base + (now - t0) * r / 1000000))"
      sleep 0.02
    done
  ) &
  BUMP_PID=$!
}

# rates_near WANT LOW HIGH (WANT names the expected rate for the reader): 15 successive REPORTs (distinct seqs, ~1.5 s); their median within
# [LOW, HIGH] and none unknown. Prints the rates.
rates_near() {
  local low="$2" high="$3" last="" s r got=() t0=$SECONDS
  while ((${#got[@]} < 15 && SECONDS - t0 < 10)); do
    s="$(seq_of)"
    if [[ -n "$s" && "$s" != "$last" ]]; then
      r="$(rate)"
      [[ -n "$r" ]] && got+=("$r")
      last="$s"
    fi
    sleep 0.03
  done
  echo "${got[*]}"
  ((${#got[@]} >= 10)) || return 1
  printf '%s\n' "${got[@]}" | sort -g | awk -v lo="$low" -v hi="$high" '
    { v[NR] = $1; if ($1 < 0) unknown++ }
    END { m = v[int((NR + 1) / 2)]; exit !(unknown == 0 && m >= lo && m <= hi) }'
}

write_ini() { # write_ini [EXTRA LINES...]
  {
    printf '%s\n' "[agent]" "node = web1" "role = app" "coordinators = tcp://127.0.0.1:$SPORT" \
      "insecure = true" "heartbeat = 100ms"
    printf '%s\n' "$@"
  } >"$WORK/agent.ini"
}

agent_start() { # agent_start LOGNAME
  "$AGENT" --config "$WORK/agent.ini" >>"$WORK/agent-$1.log" 2>&1 &
  AGENT_PID=$!
}

"$SINK" "tcp://127.0.0.1:$SPORT" "$WORK/sink.txt" >"$WORK/sink.log" 2>&1 &
SINK_PID=$!
log "the report sink on $SPORT, in $WORK"

# ---- a counter file that does not exist yet ------------------------------------------
CASE=config
write_ini "app_version = 2.14.0" "error_counter_file = run/errors"
out="$("$AGENT" --config "$WORK/agent.ini" --check-config 2>&1)"
[[ "$out" == *"role app"*"app_version 2.14.0, error counter $WORK/run/errors, no database"* ]] &&
  ok "--check-config: $out" || fail "--check-config: $out"
printf '%s\n' "[agent]" "node = r1" "role = replica" "conninfo = dbname=app" \
  "coordinators = tcp://127.0.0.1:$SPORT" "insecure = true" "app_version = 1" >"$WORK/bad.ini"
out="$("$AGENT" --config "$WORK/bad.ini" 2>&1)"
rc=$?
[[ $rc == 2 && "$out" == *"bad.ini:7: \`app_version\` is only for role = app (this agent's role is replica); remove it"* ]] &&
  ok "app_version for a replica: exit 2 with its file:line" || fail "rc $rc: $out"

CASE=no_counter_file
mkdir -p "$WORK/run"
write_ini "app_version = 2.14.0" "error_counter_file = run/errors"
agent_start 1
wait_for 20 report_has "role=app db_ok=1 " || fail "no REPORT: $(report)"
grep -q "hello node=web1 roles=app capabilities=app" "$WORK/sink.txt" &&
  ok "HELLO roles=app capabilities=app" || fail "HELLO: $(sed -n 1p "$WORK/sink.txt")"
report_has "role=app db_ok=1 redis_ok=0 cache_pending=0 cache_confirmed=0 app_version=2.14.0 app_error_rate=-1.000 db_error= " &&
  ok "no counter file: app_error_rate=-1, db_ok=1 without a database" || fail "REPORT: $(report)"
sleep 0.5
n="$(agent_log | grep -c "WARN .*app: error counter: cannot open $WORK/run/errors: No such file or directory")"
[[ "$n" == 1 ]] && ok "the missing file is logged once" || fail "$n warnings for the missing file"

CASE=steady
put_count "$WORK/run/errors" 7
wait_for 5 rate_is 0.000 && ok "a steady count: 0/s" || fail "rate $(rate)"
grep -q "INFO .*app: error counter $WORK/run/errors reads 7 again" "$WORK/agent-1.log" &&
  ok "the recovery is logged" || fail "no recovery line: $(grep 'app:' "$WORK/agent-1.log" | tail -3)"

CASE=20_per_s
bump_start "$WORK/run/errors" 20 7
sleep 1.2 # a full window of the new rate
rates="$(rates_near 20 17 23)" && ok "20 errors/s reported as: $rates" || fail "rates: $rates"

CASE=back_to_0
bump_stop
t0=$EPOCHREALTIME
wait_for 5 rate_is 0.000 &&
  ok "back to 0/s $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s after the bumping stopped" ||
  fail "rate $(rate)"
rates="$(rates_near 0 0 0)" && ok "and stays there: $rates" || fail "rates: $rates"

CASE=restart
put_count "$WORK/run/errors" 3 # the app restarted: its count starts over
wait_for 5 grep -q "INFO .*app: the error count went down to 3 (the app restarted?)" "$WORK/agent-1.log" &&
  ok "the count going down is logged" || fail "no line for the count going down"
wait_for 5 rate_is 0.000 && ok "then 0/s from the new count" || fail "rate $(rate)"
bump_start "$WORK/run/errors" 20 3
sleep 1.2
rates="$(rates_near 20 17 23)" && ok "20 errors/s after the restart: $rates" || fail "rates: $rates"
bump_stop

CASE=garbage
put_count "$WORK/run/errors" "lots"
wait_for 5 rate_is -1.000 && ok "a counter that is not an integer: -1" || fail "rate $(rate)"
sleep 1 # ten more reports
n="$(grep -c "WARN .*app: error counter: $WORK/run/errors does not hold one non-negative integer (\`lots\\\\x0a\`)" "$WORK/agent-1.log")"
[[ "$n" == 1 ]] && ok "logged once over ten reports" || fail "$n warnings: $(grep 'app:' "$WORK/agent-1.log" | tail -3)"
put_count "$WORK/run/errors" 40
wait_for 5 rate_is 0.000 && ok "an integer again: 0/s" || fail "rate $(rate)"

CASE=sighup
put_count "$WORK/run/errors2" 1000
write_ini "app_version = 2.15.0-rc.1" "error_counter_file = $WORK/run/errors2"
kill -HUP "$AGENT_PID"
wait_for 5 report_has "app_version=2.15.0-rc.1 " && ok "SIGHUP: app_version=2.15.0-rc.1" ||
  fail "REPORT: $(report)"
grep -q "reload: app_version 2.15.0-rc.1 (was 2.14.0)" "$WORK/agent-1.log" &&
  grep -q "reload: error_counter_file $WORK/run/errors2 (was $WORK/run/errors)" "$WORK/agent-1.log" &&
  ok "the reload is logged" || fail "reload lines: $(grep 'reload' "$WORK/agent-1.log")"
bump_start "$WORK/run/errors2" 50 1000
put_count "$WORK/run/errors" 0 # the old file no longer counts
sleep 1.2
rates="$(rates_near 50 45 55)" && ok "50 errors/s from the new file: $rates" || fail "rates: $rates"
bump_stop
write_ini "app_version = 2.15.0-rc.1"
kill -HUP "$AGENT_PID"
wait_for 5 rate_is -1.000 && ok "error_counter_file removed: -1" || fail "rate $(rate)"

CASE=stop
stop_agent
[[ "$AGENT_RC" == 0 ]] && grep -q "INFO .* stopped" "$WORK/agent-1.log" && ok "SIGTERM: stopped, exit 0" ||
  fail "exit $AGENT_RC"
if grep -E "WARN|ERROR" "$WORK/agent-1.log" | grep -v -e "app: error counter:" | grep -q .; then
  fail "unexpected warnings: $(grep -E "WARN|ERROR" "$WORK/agent-1.log" | grep -v "app: error counter:" | head -3)"
else
  ok "no other warning in the log"
fi

# ---- a database that cannot be reached, then none, then (with PostgreSQL) a real one -----
CASE=db_down
put_count "$WORK/run/errors" 5
write_ini "app_version = 3.0" "error_counter_file = run/errors" \
  "conninfo = host=127.0.0.1 port=$DEAD_PORT dbname=app connect_timeout=1"
agent_start 2
wait_for 10 report_has "app_version=3.0 app_error_rate=0.000 db_error=connection_to_server" &&
  report_has "role=app db_ok=0 " && ok "conninfo that cannot connect: db_ok=0, the app fields still there" ||
  fail "REPORT: $(report)"
write_ini "app_version = 3.0" "error_counter_file = run/errors"
kill -HUP "$AGENT_PID"
wait_for 5 report_has "role=app db_ok=1 .*app_version=3.0 app_error_rate=0.000 db_error= " &&
  grep -q "reload: conninfo removed; no database from now on (db_ok = true)" "$WORK/agent-2.log" &&
  ok "SIGHUP without conninfo: db_ok=1" || fail "REPORT: $(report)"

CASE=db_up
if [[ -x "$PG_BIN/initdb" && -x "$PG_BIN/pg_ctl" ]] && { [[ "$(id -u)" -ne 0 ]] || id postgres >/dev/null 2>&1; }; then
  mkdir -p "$WORK/pg"
  [[ ${#RUNUSER[@]} -gt 0 ]] && chown postgres: "$WORK/pg"
  started=0
  if (cd / && "${RUNUSER[@]}" "$PG_BIN/initdb" -D "$WORK/pg/data" -U postgres -A trust -E UTF8 --no-locale >"$WORK/initdb.log" 2>&1); then
    # a free port can be taken between the check and the start: try a few
    for _ in 1 2 3; do
      PGPORT="$(free_port 58000 1000)"
      if (cd / && "${RUNUSER[@]}" "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/log" -w -t 60 \
        -o "-p $PGPORT -k $WORK/pg -c listen_addresses=127.0.0.1 -c fsync=off" start >>"$WORK/pg_ctl.log" 2>&1); then
        started=1
        break
      fi
    done
  fi
  if ((started)); then
    PG_UP=1
    write_ini "app_version = 3.0" "error_counter_file = run/errors" \
      "conninfo = host=127.0.0.1 port=$PGPORT user=postgres dbname=postgres"
    kill -HUP "$AGENT_PID"
    wait_for 10 grep -q "database: connected" "$WORK/agent-2.log" &&
      wait_for 5 report_has "role=app db_ok=1 .*app_error_rate=0.000 db_error= " &&
      ok "SIGHUP with a reachable conninfo: connected, db_ok=1" || fail "REPORT: $(report)"
    (cd / && "${RUNUSER[@]}" "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m immediate -w stop >/dev/null 2>&1)
    PG_UP=0
    wait_for 10 report_has "role=app db_ok=0 .*app_version=3.0 app_error_rate=0.000 " &&
      ok "PostgreSQL stopped: db_ok=0 (the rate still reported)" || fail "REPORT: $(report)"
  else
    fail "PostgreSQL did not start: $(tail -5 "$WORK/initdb.log" "$WORK/pg_ctl.log" "$WORK/pg/log" 2>&1)"
  fi
else
  log "skip [$CASE]: no PostgreSQL server binaries"
fi
stop_agent
[[ "$AGENT_RC" == 0 ]] || fail "exit $AGENT_RC"

((${#FAILED[@]} == 0)) && log "all cases passed"
