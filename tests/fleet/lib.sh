# lib.sh: what the fleet's shell tests share (sourced by test_fleet.sh and test_liveview.sh).

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

# sanitizer_reports LOGDIR: under ASan/UBSan, prints any report in a coordinator's or an
# agent's log and succeeds when there is one (the caller fails the run)
sanitizer_reports() {
  local dir="$1"
  grep -l -E "Sanitizer|runtime error:" "$dir"/coordinator*.log "$dir"/agent-*.log 2>/dev/null || return 1
  grep -h -A30 -E "Sanitizer|runtime error:" "$dir"/coordinator*.log "$dir"/agent-*.log | head -80
  return 0
}
