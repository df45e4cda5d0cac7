#!/usr/bin/env bash
# test_liveview.sh: the coordinator's live view against real processes (docs/liveview.md):
# a primary, 2 streaming replicas, an agent per node and the coordinator
# (deploy/local-cluster.sh in a temp dir), a backfill, headless Chromium driven over the
# DevTools protocol (tests/fleet/liveview_cdp.py) and a real Prometheus.
#
#   tests/fleet/test_liveview.sh BUILD_DIR
#
# Shows: the page loads nothing but the coordinator's own URLs (other host names do not even
# resolve); its DOM shows the migration, progress moving between two captures and the
# replica lag; Pause, Resume and Abort clicked on the page (with the confirmation dialog)
# change the migration, as the database and `convoy status` say; the screenshot is kept in
# $CONVOY_TEST_ARTIFACTS (default BUILD_DIR/liveview); `promtool check metrics` passes on
# /metrics; Prometheus scrapes it with the token file and its query API returns the replica
# lag series. Every endpoint but the page's files needs the bearer token.
# Exit 0 when all pass, 1 otherwise, 77 when PostgreSQL 15, chromium or prometheus are not
# installed (skip; CONVOY_TEST_NO_SKIP=1 turns a skip into a failure).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="$(cd "${1:?usage: test_liveview.sh BUILD_DIR}" && pwd)"

log() { printf 'test_liveview: %s\n' "$*"; }
skip() {
  log "$*: skipped"
  [[ -n "${CONVOY_TEST_NO_SKIP:-}" ]] && exit 1
  exit 77
}
command -v pg_config >/dev/null && [[ -x "$(pg_config --bindir)/initdb" ]] ||
  skip "PostgreSQL server binaries not found"
CHROMIUM="$(command -v chromium || command -v chromium-browser || true)"
[[ -n "$CHROMIUM" ]] || skip "chromium not found (Debian package chromium)"
command -v prometheus >/dev/null && command -v promtool >/dev/null ||
  skip "prometheus or promtool not found (Debian package prometheus)"
for t in python3 curl jq; do
  command -v "$t" >/dev/null || skip "$t not found"
done

WORK="$(mktemp -d /tmp/cvlv.XXXXXX)"
chmod 755 "$WORK"
export CONVOY_LOCAL_DIR="$WORK/c"
export CONVOY_BIN="$WORK/bin"
export CONVOY_LOCAL_COORDINATORS=1
# the live view needs neither Redis invalidation nor an app node
export CONVOY_LOCAL_CACHE=0 CONVOY_LOCAL_APP=0
mkdir -p "$CONVOY_BIN"
ln -s "$BUILD/coordinator/convoy" "$CONVOY_BIN/convoy"
ln -s "$BUILD/agent/convoy-agent" "$CONVOY_BIN/convoy-agent"
CONVOY="$CONVOY_BIN/convoy"
LC="$ROOT/deploy/local-cluster.sh"
# shellcheck source=tests/fleet/lib.sh
. "$ROOT/tests/fleet/lib.sh"
CDP="$ROOT/tests/fleet/liveview_cdp.py"
ART="${CONVOY_TEST_ARTIFACTS:-$BUILD/liveview}"
mkdir -p "$ART"
rm -f "$ART"/*.html "$ART"/*.json "$ART"/*.png "$ART"/*.txt
FAILED=()
PROM_PID=""
DRIVER_PID=""
M=liveview_backfill

cleanup() {
  local rc=$?
  # the browser driver runs in its own process group (with its chromium)
  [[ -n "$DRIVER_PID" ]] && kill -- "-$DRIVER_PID" 2>/dev/null
  if [[ -n "$PROM_PID" ]]; then
    kill "$PROM_PID" 2>/dev/null
    wait "$PROM_PID" 2>/dev/null
  fi
  if ((rc != 0 || ${#FAILED[@]})); then
    for f in "$CONVOY_LOCAL_DIR"/logs/coordinator*.log "$WORK"/prometheus.log; do
      [[ -f "$f" ]] || continue
      echo "---- tail $f"
      tail -n "${CONVOY_TEST_LOG_LINES:-25}" "$f"
    done
  fi
  bash "$LC" down >/dev/null 2>&1 || true
  # under ASan/UBSan: any report in a coordinator's or agent's log fails the run
  if sanitizer_reports "$CONVOY_LOCAL_DIR/logs"; then
    log "FAIL: a sanitizer report in the logs above"
    rc=1
  fi
  bash "$LC" down --purge >/dev/null 2>&1 || true
  rm -rf "$WORK"
  if ((rc == 0 && ${#FAILED[@]} == 0)); then
    log "all passed; screenshot and DOM captures in $ART"
  else
    log "${#FAILED[@]} failed:"
    printf '  - %s\n' "${FAILED[@]}"
    ((rc == 0)) && rc=1
  fi
  exit "$rc"
}
trap cleanup EXIT

fail() {
  log "FAIL: $*"
  FAILED+=("$*")
  return 1
}
ok() { log "ok   $*"; }

status_of() { psql_p -c "SELECT status FROM convoy.migrations WHERE name = '$1'"; }
# http CURL-ARGS...: prints "STATUS BODY"
http() { curl -s -m 10 -w '\n%{http_code}' "$@" | { b="$(cat)"; printf '%s %s' "${b##*$'\n'}" "${b%$'\n'*}"; }; }

# ---- the cluster, a table, Prometheus ------------------------------------------------
log "bringing up the local cluster in $CONVOY_LOCAL_DIR"
if ! bash "$LC" up >"$WORK/up.log" 2>&1; then
  cat "$WORK/up.log"
  log "FAIL: local-cluster.sh up"
  exit 1
fi
eval "$(bash "$LC" env)"
auth=(-H "Authorization: Bearer $CONVOY_TOKEN")
TOKEN_FILE="$CONVOY_LOCAL_DIR/keys/http.token"
HTTP_HOSTPORT="${CONVOY_HTTP#http://}"
psql_p -c "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, val int NOT NULL)"
psql_p -c "INSERT INTO users SELECT g, 'u' || g || '@example.com', g % 1000 FROM generate_series(1, 600000) g"
psql_p -c "VACUUM ANALYZE users"

PROM_PORT="$(free_port)" || { log "FAIL: no free port for Prometheus"; exit 1; }
cat >"$WORK/prometheus.yml" <<YML
# the coordinator's /metrics needs the bearer token: Prometheus reads it from the token file
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: convoy
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials_file: $TOKEN_FILE
    static_configs:
      - targets: ['$HTTP_HOSTPORT']
YML
promtool check config "$WORK/prometheus.yml" >"$WORK/promtool-config.log" 2>&1 ||
  fail "promtool check config: $(cat "$WORK/promtool-config.log")"
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prom" \
  --web.listen-address="127.0.0.1:$PROM_PORT" >"$WORK/prometheus.log" 2>&1 &
PROM_PID=$!
PROM="http://127.0.0.1:$PROM_PORT"

# ---- the endpoints' authentication ---------------------------------------------------
read -r code _ <<<"$(http "$CONVOY_HTTP/metrics")"
[[ "$code" == 401 ]] && ok "/metrics without the token: 401" || fail "/metrics without the token: $code"
read -r code _ <<<"$(http "$CONVOY_HTTP/v1/overview")"
[[ "$code" == 401 ]] && ok "/v1/overview without the token: 401" || fail "/v1/overview without the token: $code"
read -r code _ <<<"$(http -X POST "$CONVOY_HTTP/v1/migrations/$M/pause")"
[[ "$code" == 401 ]] && ok "POST .../pause without the token: 401" || fail "POST .../pause without the token: $code"
read -r code _ <<<"$(http "${auth[@]}" "$CONVOY_HTTP/v1/migrations/$M/pause")"
[[ "$code" == 405 ]] && ok "GET .../pause: 405" || fail "GET .../pause: $code"
headers="$(curl -s -m 10 -D - -o "$WORK/index.html" "$CONVOY_HTTP/")"
if grep -qi "^content-security-policy: default-src 'none'" <<<"$headers" && grep -qi "^content-type: text/html" <<<"$headers"; then
  ok "the page (no token needed: it holds no data) with a CSP that allows only its own origin"
else
  fail "the page's headers: $headers"
fi
for f in / /app.js /style.css; do curl -s -m 10 "$CONVOY_HTTP$f"; done >"$WORK/assets.txt"
# the SVG namespace is a name, not a resource
if sed 's|http://www.w3.org/2000/svg||g' "$WORK/assets.txt" | grep -n -o -E "(https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}[^ \"')]*"; then
  fail "the page's files name external URLs (above)"
else
  ok "the page's files name no external URL"
fi

# ---- the page during a backfill: progress, lag, pause ---------------------------------
# the browser starts first and waits on the page for the migration to show up
setsid python3 "$CDP" --chromium "$CHROMIUM" --url "$CONVOY_HTTP/" --token-file "$TOKEN_FILE" \
  --migration "$M" --out "$ART" \
  token wait-migration capture:dom1 sleep:1.5 capture:dom2 wait-hold:"replica r2 lag" \
  sleep:1 screenshot:dashboard.png op:pause wait-status:paused capture:dom3 >"$WORK/cdp1.log" 2>&1 &
DRIVER_PID=$!
# a backfill of a few seconds per pass (an expression that costs a little per row)
cat >"$WORK/$M.sql" <<SQL
-- convoy:name $M
-- convoy:batch-target 50ms
-- convoy:backfill score = hashtext(repeat(email, 2000))
ALTER TABLE users ADD COLUMN score bigint;
SQL
"$CONVOY" apply --cluster "$CONVOY_CLUSTER" --detach -q "$WORK/$M.sql" >"$WORK/submit.log" 2>&1 ||
  fail "submitting $M: $(cat "$WORK/submit.log")"
# after the second capture, r2 stops replaying: its lag crosses the limit, the coordinator
# holds the backfill and the page shows why (the screenshot is taken then); then r2 goes on
read -r _ R2 <<<"$CONVOY_REPLICAS"
if wait_for 60 test -f "$ART/dom2.json"; then
  psql_p -d "$R2" -c "SELECT pg_wal_replay_pause()" >/dev/null
  wait_for 20 test -f "$ART/dashboard.png" || fail "no screenshot while r2 lags"
  psql_p -d "$R2" -c "SELECT pg_wal_replay_resume()" >/dev/null
fi
wait "$DRIVER_PID"
rc=$?
DRIVER_PID=""
sed 's/^/    /' "$WORK/cdp1.log"
((rc == 0)) || fail "the browser session (pause) failed"
mv "$ART/requests.txt" "$ART/requests-pause.txt" 2>/dev/null

f1="$ART/dom1.json" f2="$ART/dom2.json"
if [[ -f "$f1" && -f "$f2" ]]; then
  r1="$(jq -r --arg m "$M" '.migrations[$m].rows_done // -1' "$f1")"
  r2="$(jq -r --arg m "$M" '.migrations[$m].rows_done // -1' "$f2")"
  if grep -q "data-migration=\"$M\"" "$ART/dom2.html" && jq -e --arg m "$M" '.migrations[$m].text | contains($m)' "$f2" >/dev/null; then
    ok "the DOM shows migration $M ($(jq -r --arg m "$M" '.migrations[$m].status' "$f2"))"
  else
    fail "the DOM does not show $M"
  fi
  ((r1 > 0 && r2 > r1)) && ok "progress moved between the captures: $r1 -> $r2 rows" ||
    fail "progress did not move: $r1 -> $r2 rows"
  if jq -e '.worst_lag_ms != null and (.fleet.r1.lag_text | test("[0-9] s")) and (.fleet.r2.lag_text | test("[0-9] s"))' "$f2" >/dev/null &&
    grep -q "replica r2 lag" "$WORK/cdp1.log"; then
    ok "the DOM shows the replica lag: worst $(jq -r .worst_lag_text "$f2"), r1 $(jq -r .fleet.r1.lag_text "$f2"), r2 $(jq -r .fleet.r2.lag_text "$f2"); then the hold: $(grep -o 'holding: replica r2 lag[^"]*' "$WORK/cdp1.log" | head -1)"
  else
    fail "the DOM shows no replica lag: $(jq -c '{worst_lag_ms, fleet}' "$f2")"
  fi
else
  fail "no DOM captures"
fi
if [[ "$(head -c 8 "$ART/dashboard.png" 2>/dev/null | od -An -tx1 | tr -d ' \n')" == 89504e470d0a1a0a ]] &&
  (($(stat -c %s "$ART/dashboard.png") > 20000)); then
  ok "screenshot $ART/dashboard.png ($(stat -c %s "$ART/dashboard.png") bytes)"
else
  fail "no screenshot PNG"
fi
[[ "$(status_of "$M")" == paused ]] && ok "the database says $M is paused (from the page)" ||
  fail "$M is $(status_of "$M") after Pause on the page"
st="$("$CONVOY" status "$M" --cluster "$CONVOY_CLUSTER" 2>&1)"
grep -q "^$M  paused" <<<"$st" && ok "convoy status: $(head -1 <<<"$st" | cut -c1-60)..." ||
  fail "convoy status does not say paused: $st"
a="$(psql_p -c "SELECT count(*) FROM convoy.audit WHERE migration = '$M' AND action = 'pause_request' AND detail LIKE '%dashboard%'")"
[[ "$a" == 1 ]] && ok "the pause is audited as the dashboard's" || fail "pause_request audit rows from the dashboard: $a"

# the terminal's view of the same state
timeout --preserve-status -s INT 2.5 "$CONVOY" status --watch --cluster "$CONVOY_CLUSTER" >"$ART/watch.txt" 2>&1
rc=$?
if ((rc == 0)) && (($(grep -c "^convoy status --watch" "$ART/watch.txt") >= 2)) &&
  grep -q "^$M  *paused  *step 2/" "$ART/watch.txt" && grep -q "^fleet:.* r2 " "$ART/watch.txt"; then
  ok "convoy status --watch refreshes: $(grep -m1 "^$M" "$ART/watch.txt" | tr -s ' ')"
else
  fail "convoy status --watch (exit $rc): $(cat "$ART/watch.txt")"
fi
timeout --preserve-status -s INT 1.5 "$CONVOY" status "$M" --watch --json --cluster "$CONVOY_CLUSTER" >"$WORK/watch.json" 2>&1
if jq -e --arg m "$M" '.migrations[0].migration == $m and .migrations[0].status == "paused"' "$WORK/watch.json" >/dev/null; then
  ok "convoy status --watch --json: $(wc -l <"$WORK/watch.json") JSON lines"
else
  fail "convoy status --watch --json: $(head -c 300 "$WORK/watch.json")"
fi

# ---- /metrics: promtool, then Prometheus ----------------------------------------------
curl -s -m 10 "${auth[@]}" "$CONVOY_HTTP/metrics" >"$ART/metrics.txt"
if promtool check metrics <"$ART/metrics.txt" >"$WORK/promtool.log" 2>&1; then
  ok "promtool check metrics passes ($(grep -c '^# TYPE' "$ART/metrics.txt") families, $(grep -vc '^#' "$ART/metrics.txt") samples)"
else
  fail "promtool check metrics: $(cat "$WORK/promtool.log")"
fi
for line in "convoy_migration_status{migration=\"$M\",status=\"paused\"} 1" \
  "convoy_migration_hold_reason{migration=\"$M\",reason=\"operator_pause\"} 1"; do
  grep -qF "$line" "$ART/metrics.txt" && ok "metrics: $line" || fail "metrics lack: $line"
done
grep -qE "^convoy_backfill_batch_duration_seconds_count\{migration=\"$M\"\} [1-9]" "$ART/metrics.txt" &&
  ok "metrics: $(grep -E "^convoy_backfill_batch_duration_seconds_count\{migration=\"$M\"\}" "$ART/metrics.txt")" ||
  fail "no batch duration histogram for $M"
prom_lag() {
  curl -s -m 5 "$PROM/api/v1/query?query=convoy_replica_lag_seconds" >"$WORK/prom-query.json" &&
    jq -e '[.data.result[].metric.node] | (index("r1") != null and index("r2") != null)' "$WORK/prom-query.json"
}
if wait_for 30 prom_lag; then
  ok "Prometheus scraped /metrics with the token file; its query API returns: $(jq -c '[.data.result[] | {node: .metric.node, lag_s: .value[1]}]' "$WORK/prom-query.json")"
else
  fail "Prometheus's query API has no replica lag series: $(cat "$WORK/prom-query.json" 2>/dev/null); targets: $(curl -s -m 5 "$PROM/api/v1/targets" | jq -c '[.data.activeTargets[] | {health, lastError}]' 2>/dev/null)"
fi

# ---- resume and abort from the page ---------------------------------------------------
setsid python3 "$CDP" --chromium "$CHROMIUM" --url "$CONVOY_HTTP/" --token-file "$TOKEN_FILE" \
  --migration "$M" --out "$ART" \
  token wait-status:paused capture:dom4 op:resume wait-status:running wait-progress \
  op:abort wait-status:'aborting|aborted' >"$WORK/cdp2.log" 2>&1 &
DRIVER_PID=$!
wait "$DRIVER_PID"
rc=$?
DRIVER_PID=""
sed 's/^/    /' "$WORK/cdp2.log"
((rc == 0)) || fail "the browser session (resume, abort) failed"
wait_for 60 bash -c "[[ \$(psql -X -At -c \"SELECT status FROM convoy.migrations WHERE name = '$M'\") == aborted ]]" &&
  ok "the database says $M is aborted (from the page)" || fail "$M is $(status_of "$M") after Abort on the page"
for action in resume_request abort_request; do
  a="$(psql_p -c "SELECT count(*) FROM convoy.audit WHERE migration = '$M' AND action = '$action'")"
  [[ "$a" == 1 ]] && ok "audited: $action" || fail "$action audit rows: $a"
done
if [[ -f "$ART/requests.txt" && -f "$ART/requests-pause.txt" ]] &&
  ! grep -v -F "$CONVOY_HTTP/" "$ART/requests.txt" "$ART/requests-pause.txt"; then
  ok "every request of the page went to the coordinator ($(sort -u "$ART"/requests*.txt | wc -l) distinct URLs, other names do not resolve)"
else
  fail "the page requested other URLs (above)"
fi
((${#FAILED[@]} == 0))
