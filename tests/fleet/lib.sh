# shellcheck shell=bash
# lib.sh: what the fleet's shell tests share (test_fleet.sh, test_liveview.sh, test_cache_agent.sh,
# test_app_agent.sh and bench/fleet_bench.sh source it).

psql_p() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

# wait_for SECONDS CMD...: until CMD succeeds
wait_for() {
  local limit="$1" t0=$SECONDS
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS - t0 >= limit)) && return 1
    sleep 0.05
  done
}

# sanitizer_reports DIR: under ASan/UBSan, prints any report in the coordinator and agent logs
# in DIR and succeeds when there is one (the caller fails the run)
sanitizer_reports() {
  local f logs=()
  for f in "$1"/coordinator*.log "$1"/agent-*.log; do [[ -f "$f" ]] && logs+=("$f"); done
  ((${#logs[@]})) || return 1
  grep -l -E "Sanitizer|runtime error:" "${logs[@]}" || return 1
  grep -h -A30 -E "Sanitizer|runtime error:" "${logs[@]}" | head -80
  return 0
}

# free_port [BASE [SPAN]]: a TCP port in BASE..BASE+SPAN-1 (default 20000-31999, below the
# ephemeral range) that no socket on this host uses
free_port() {
  local base="${1:-20000}" span="${2:-12000}" p hex
  for _ in $(seq 1 200); do
    p=$((base + RANDOM % span))
    hex="$(printf '%04X' "$p")"
    awk -v p="$hex" 'FNR > 1 { n = split($2, a, ":"); if (a[n] == p) found = 1 } END { exit !found }' \
      /proc/net/tcp /proc/net/tcp6 2>/dev/null || {
      echo "$p"
      return 0
    }
  done
  return 1
}
