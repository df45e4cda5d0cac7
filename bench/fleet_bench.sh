#!/usr/bin/env bash
# fleet_bench.sh: the fleet's benchmarks, each on a throwaway local cluster it starts
# (deploy/local-cluster.sh in a temp dir under /tmp) and removes. See docs/benchmarks.md,
# section "Fleet".
#
#   --case throttle    throttle reaction: how soon after a replica's lag crosses max_lag the
#                      backfill stops committing batches (replay paused on r2, per trial)
#   --case throughput  backfill throughput with 2 replicas under the 1 s lag limit, as a
#                      ratio to one UPDATE of an identical table in the same run, and the
#                      worst replica lag seen during each
#   --case agents      the coordinator's CPU and memory with N simulated agents
#                      (convoy-agentsim) reporting at 10 Hz
#   --case invalidation  Redis invalidation during a backfill (the cache agent, outbox
#                      convoy.invalidations) against a pipelined UNLINK from redis-cli --pipe,
#                      and the backfill's throughput with and without -- convoy:cache key
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LC="$ROOT/deploy/local-cluster.sh"
PROG="bench/fleet_bench.sh"

CASE=
TRIALS=20
ROWS=
AGENTS=200
SECONDS_RUN=30
WORK_N=400
BATCH_TARGET=
BUILD="$ROOT/build"
AGENTSIM=
KEEP=0
WARMUP_S=5
REVERSE=0
CACHE_CPU=0
SESSION_CPU=cache # --session-cpu: where --cache-cpu puts the cache agent's server session
SECOND_PASS= # --second-pass D; empty: the agent's default (500 ms)
PIN=() # --cache-cpu: the command prefix that puts redis-cli on the cache path's CPU
REPEAT=1
REP=1

usage() {
    cat <<USAGE
usage: $PROG --case throttle|throughput|agents|invalidation [options]

Each case brings up its own local cluster with deploy/local-cluster.sh in a new
/tmp/cfb.XXXXXX directory (CONVOY_LOCAL_DIR), with copies of the build's convoy and
convoy-agent in CONVOY_BIN, and removes it at the end (also on failure or Ctrl-C).

  --case throttle [--trials N] [--rows N] [--work N]
      A primary, replicas r1 and r2, their agents and the coordinator (max_lag 1 s,
      heartbeat 100 ms, track_commit_timestamp on). A users table of N rows (default
      3000000) and a migration submitted with 'convoy apply --cluster --detach':
        -- convoy:batch-target 50ms
        -- convoy:backfill score = val + (SELECT count(*) FROM generate_series(1, W + val % 2))
        ALTER TABLE users ADD COLUMN score bigint;
      (W = --work, default $WORK_N: about 25 us of CPU per row, so that the fill pass lasts
      all the trials; batches are still steered to 50 ms.) Per trial (default 20): pause
      WAL replay on r2 and take P (r2's clock_timestamp() in that same statement; one
      host, one clock), wait 2.5 s, read the fill pass's last batch, resume replay, wait
      until r2 has replayed everything and batches flow again. The lag crosses the 1 s
      limit at about P + 1 s (+ up to one heartbeat interval); the reaction is the last
      batch's commit time (pg_xact_commit_timestamp of its checkpoint row) - (P + 1 s).
      Also printed: the same from max(updated_at) (the batch's transaction start, now()),
      and the 'hold' audit row's time - P. Goal: p99 <= 300 ms.

  --case throughput [--rows N] [--repeat K] [--batch-target MS] [--reverse]
      The same fleet; two identical tables users_a and users_b of N rows (default
      1000000). (a) ALTER TABLE users_b ADD COLUMN score bigint, then one
      UPDATE users_b SET score = val * 2, timed by the server (clock_timestamp() before,
      after its commit). (b) convoy's backfill of the same expression on users_a through
      the coordinator (-- convoy:backfill score = val * 2 + ADD COLUMN score bigint; the
      default batch target unless --batch-target), timed from the start of its first
      backfill step to the end of its last (convoy.steps). Ratio = (a)'s time / (b)'s
      time. Replica lag is sampled every 100 ms (pg_stat_replication.replay_lag and the
      byte lag on the primary; convoy.fleet.lag_ms, which the coordinator writes every
      500 ms): the worst seen during each, and how long each replica took to replay the
      end of (a) and of (b). --repeat K (default 1): K repetitions on fresh tables,
      alternating the order ((a) first, then (b) first, ...; --reverse starts with (b)),
      and the median ratio.

  --case agents [--agents N] [--seconds S]
      PostgreSQL only (local-cluster.sh up --no-fleet), a coordinator of its own
      (convoy coordinator --config FILE) whose config lists N simulated agents
      (default 200; convoy-agentsim --keygen: each its own CURVE key pair, inline
      agent_key) and no migration, then convoy-agentsim for S seconds (default 30):
      a HELLO and a REPORT every 100 ms per agent. Measured after a ${WARMUP_S} s warm-up
      until 1 s before the simulator stops: the coordinator's CPU (utime + stime from
      /proc/PID/stat, % of one core), VmRSS and VmHWM; also its CPU with no agents (5 s)
      before the simulator starts. Checks that the coordinator logged "agent simNNN is
      connected" for every agent. Goal: under 10% of one core.

  --case invalidation [--rows N] [--repeat K] [--reverse] [--cache-cpu [--session-cpu db]]
                      [--second-pass D]
      The same fleet, whose cache agent (role = cache, second_pass 500 ms, or D with
      --second-pass D, e.g. 10s: the second passes after the backfill) works the
      outbox. Per repetition, two identical tables profiles and profiles_b
      (id bigint PRIMARY KEY, val int) of N rows (default 200000), and in Redis the keys
      user:1..user:N (SET to a short value by one EVAL):
      (1) baseline: redis-cli --pipe fed with UNLINK commands of 1000 keys each (RESP
          written by awk beforehand), timed from its start to its exit; keys/s.
      (2) the keys SET again, then through the coordinator (convoy apply --cluster --detach):
            -- convoy:cache key user:{id}
            -- convoy:backfill score = val * 3
            ALTER TABLE profiles ADD COLUMN score int;
          (default batch target). From convoy.invalidations: keys removed (sum of removed)
          / (last first_at - first created_at), the first pass; also / (last confirmed_at
          - first created_at), which includes the 500 ms second pass; per batch, keys over
          the sum of each row's first_at - created_at; and the agent's working rate: keys
          over the sum, per claim (claimed_at = the agent transaction's start), of its last
          first_at - claimed_at. Ratios to (1); goal >= 0.8. Every user:i must be gone at the end (EVAL counting EXISTS), else the
          run fails.
      (3) the same backfill of profiles_b without the cache directive; (1b): the keys SET
          again, and (1)'s redis-cli --pipe run again once (3)'s fill pass has committed
          its first batch: the same competition for the CPU as (2). Throughput on/off
          from the fill pass (the first backfill step's started_at..finished_at in
          convoy.steps). The order of (2) and (3) alternates per repetition (--reverse:
          (3) first); the medians over the repetitions.
      --cache-cpu: the cache path gets a CPU of its own, as it has its own host in a
      deployment: redis-server, the cache agent, the agent's server session and every
      redis-cli on the last CPU (taskset), everything else (the three PostgreSQL servers,
      the coordinator, the other agents, this script) on the others; set again at the
      start of each repetition (a reconnected agent's new session is found again).
      --session-cpu db: with --cache-cpu, the agent's server session (a backend of the
      primary) stays on the database's CPUs, as it would on the primary's host; the
      default (cache) puts it on the cache CPU.

options:
  --build DIR       the build directory with coordinator/convoy and agent/convoy-agent
                    (default $ROOT/build)
  --agentsim PATH   convoy-agentsim (default: build-bench/bench/convoy-agentsim, else
                    DIR/bench/convoy-agentsim)
  --keep            keep the cluster and the temp directory (path printed at the end)
  -h, --help        this help

Load generators (the simulator, the lag sampler) run under nice -n 5. Run as root or as
a user that may run initdb (see deploy/local-cluster.sh). Needs PostgreSQL 15 and awk.
USAGE
}

die() {
    printf 'fleet_bench: error: %s\n' "$*" >&2
    exit 1
}
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

while (($#)); do
    case $1 in
    --case) (($# >= 2)) || die "--case needs a value"; CASE=$2; shift 2 ;;
    --trials) (($# >= 2)) || die "--trials needs a value"; TRIALS=$2; shift 2 ;;
    --rows) (($# >= 2)) || die "--rows needs a value"; ROWS=$2; shift 2 ;;
    --work) (($# >= 2)) || die "--work needs a value"; WORK_N=$2; shift 2 ;;
    --batch-target) (($# >= 2)) || die "--batch-target needs a value"; BATCH_TARGET=$2; shift 2 ;;
    --agents) (($# >= 2)) || die "--agents needs a value"; AGENTS=$2; shift 2 ;;
    --seconds) (($# >= 2)) || die "--seconds needs a value"; SECONDS_RUN=$2; shift 2 ;;
    --build) (($# >= 2)) || die "--build needs a value"; BUILD=$2; shift 2 ;;
    --agentsim) (($# >= 2)) || die "--agentsim needs a value"; AGENTSIM=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --reverse) REVERSE=1; shift ;;
    --cache-cpu) CACHE_CPU=1; shift ;;
    --session-cpu) (($# >= 2)) || die "--session-cpu needs a value"; SESSION_CPU=$2; shift 2 ;;
    --second-pass) (($# >= 2)) || die "--second-pass needs a value"; SECOND_PASS=$2; shift 2 ;;
    --repeat) (($# >= 2)) || die "--repeat needs a value"; REPEAT=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
    esac
done

case $SESSION_CPU in
cache | db) ;;
*) die "--session-cpu must be cache or db, not '$SESSION_CPU'" ;;
esac
((CACHE_CPU)) || [[ $SESSION_CPU == cache ]] || die "--session-cpu needs --cache-cpu"

case $CASE in
throttle) ROWS=${ROWS:-3000000} ;;
throughput) ROWS=${ROWS:-1000000} ;;
agents) ;;
invalidation) ROWS=${ROWS:-200000} ;;
"") usage >&2; die "--case is required" ;;
*) die "--case must be throttle, throughput, agents or invalidation, not '$CASE'" ;;
esac
if [[ -n $ROWS ]] && { ! is_uint "$ROWS" || ((ROWS < 1000)); }; then die "--rows must be a whole number >= 1000"; fi
{ is_uint "$REPEAT" && ((REPEAT >= 1 && REPEAT <= 20)); } || die "--repeat must be 1..20"
{ is_uint "$TRIALS" && ((TRIALS >= 1 && TRIALS <= 200)); } || die "--trials must be 1..200"
{ is_uint "$WORK_N" && ((WORK_N <= 100000)); } || die "--work must be 0..100000"
{ is_uint "$AGENTS" && ((AGENTS >= 1 && AGENTS <= 5000)); } || die "--agents must be 1..5000"
{ is_uint "$SECONDS_RUN" && ((SECONDS_RUN >= WARMUP_S + 5 && SECONDS_RUN <= 600)); } ||
    die "--seconds must be $((WARMUP_S + 5))..600"
if [[ -n $BATCH_TARGET ]] && { ! is_uint "$BATCH_TARGET" || ((BATCH_TARGET < 10 || BATCH_TARGET > 60000)); }; then
    die "--batch-target must be 10..60000 (milliseconds)"
fi
BUILD="$(cd "$BUILD" 2>/dev/null && pwd)" || die "--build: no such directory"
for b in coordinator/convoy agent/convoy-agent; do
    [[ -x $BUILD/$b ]] || die "$BUILD/$b not found (build it, or pass --build)"
done
if [[ $CASE == agents ]]; then
    if [[ -z $AGENTSIM ]]; then
        for c in "$ROOT/build-bench/bench/convoy-agentsim" "$BUILD/bench/convoy-agentsim"; do
            [[ -x $c ]] && AGENTSIM=$c && break
        done
    fi
    [[ -n $AGENTSIM && -x $AGENTSIM ]] ||
        die "convoy-agentsim not found; build it: cmake -S $ROOT -B $ROOT/build-bench && cmake --build $ROOT/build-bench --target convoy-agentsim (or pass --agentsim)"
fi
command -v psql >/dev/null || die "psql not found"
if [[ $CASE == invalidation ]]; then
    command -v redis-cli >/dev/null || die "redis-cli not found (run: bash deploy/install-deps.sh)"
    ((ROWS <= 5000000)) || die "--rows must be <= 5000000 for --case invalidation"
fi
[[ -x "$(pg_config --bindir 2>/dev/null)/initdb" || -x /usr/lib/postgresql/15/bin/initdb ]] ||
    die "PostgreSQL server binaries not found (run: bash deploy/install-deps.sh)"

# Inherited PG* variables must not redirect our psql calls.
for v in $(compgen -e); do
    [[ $v == PG* ]] && unset "$v"
done

# ------------------------------------------------------------------------ the temp dir
WORK="$(mktemp -d /tmp/cfb.XXXXXX)"
chmod 755 "$WORK"
export CONVOY_LOCAL_DIR="$WORK/c"
export CONVOY_BIN="$WORK/bin"
export CONVOY_LOCAL_COORDINATORS=1
mkdir -p "$CONVOY_BIN"
# copies, not symlinks: a rebuild during the run cannot mix two builds
cp "$BUILD/coordinator/convoy" "$CONVOY_BIN/convoy"
cp "$BUILD/agent/convoy-agent" "$CONVOY_BIN/convoy-agent"
CONVOY="$CONVOY_BIN/convoy"
BG_PIDS=() # every background process we start, stopped by pid
CLUSTER_UP=0

cleanup() {
    local rc=$? p
    set +e
    trap - EXIT INT TERM
    for p in "${BG_PIDS[@]}"; do
        if kill -0 "$p" 2>/dev/null; then
            kill -TERM "$p" 2>/dev/null
            for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$p" 2>/dev/null
        fi
        wait "$p" 2>/dev/null
    done
    if ((CLUSTER_UP)) && [[ -n ${PGPORT:-} && -n ${R2:-} ]]; then
        # a paused replay would make the replica's shutdown wait
        psql -X -q -d "$R2" -c "SELECT pg_wal_replay_resume()" >/dev/null 2>&1
    fi
    if ((KEEP)); then
        log "kept: $WORK (stop and remove it with: CONVOY_LOCAL_DIR=$CONVOY_LOCAL_DIR bash $LC down --purge; rm -rf $WORK)"
    else
        if [[ -d $CONVOY_LOCAL_DIR ]]; then bash "$LC" down --purge >"$WORK/down.log" 2>&1 || cat "$WORK/down.log" >&2; fi
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# psql_p, wait_for, free_port: the fleet tests' helpers
# shellcheck source=../tests/fleet/lib.sh
. "$ROOT/tests/fleet/lib.sh"
q() { psql_p -c "$1"; }         # the primary
q_r2() { psql_p -d "$R2" -c "$1"; }

# pctl P FILE: the P-th percentile (nearest rank) of the numbers in FILE, one a line
pctl() {
    sort -g "$2" | awk -v p="$1" '{ v[NR] = $1 } END { if (NR == 0) { print "n/a"; exit }
        r = int(p / 100 * NR); if (r < p / 100 * NR) r++; if (r < 1) r = 1; printf "%.0f", v[r] }'
}

machine_info() {
    echo "machine:    $(getconf _NPROCESSORS_ONLN) vCPUs online, $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo), kernel $(uname -r)"
    echo "postgresql: $(psql_p -c 'SELECT version()' 2>/dev/null || echo '?')"
    echo "convoy:     $BUILD/coordinator/convoy (copied; sha256 $(sha256sum "$CONVOY" | cut -c1-12)), convoy-agent sha256 $(sha256sum "$CONVOY_BIN/convoy-agent" | cut -c1-12)"
    echo "repo:       $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
    echo "date:       $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "load avg:   at start $LOAD_START; now $(cut -d' ' -f1-3 /proc/loadavg)"
}
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"

# cluster_up [--no-fleet]: local-cluster.sh up, then its env
cluster_up() {
    if ! bash "$LC" up "$@" >>"$WORK/up.log" 2>&1; then
        cat "$WORK/up.log" >&2
        die "deploy/local-cluster.sh up $* failed"
    fi
    CLUSTER_UP=1
    eval "$(bash "$LC" env)"
    read -r _ R2 <<<"$CONVOY_REPLICAS"
}

# replicas_caught_up: both replicas have replayed the primary's current WAL position
replicas_caught_up() {
    local lsn
    lsn="$(q "SELECT pg_current_wal_lsn()")"
    wait_for 120 bash -c "[[ \$(psql -X -At -c \"SELECT count(*) FROM pg_stat_replication WHERE replay_lsn >= '$lsn'\") == 2 ]]"
}

# users TABLE ROWS: the test table, vacuumed, analyzed, autovacuum off, replicated
make_users() {
    local t="$1" n="$2"
    q "CREATE TABLE $t (id bigint PRIMARY KEY, email text NOT NULL, val int NOT NULL)" >/dev/null
    q "INSERT INTO $t SELECT g, 'u' || g || '@example.com', g % 1000 FROM generate_series(1, $n) g" >/dev/null
    q "ALTER TABLE $t SET (autovacuum_enabled = false)" >/dev/null
    q "VACUUM ANALYZE $t" >/dev/null
}

submit() {
    "$CONVOY" apply --cluster "$CONVOY_CLUSTER" --detach -q "$1" >"$WORK/submit.log" 2>&1 ||
        { cat "$WORK/submit.log" >&2; die "convoy apply --cluster --detach $1 failed"; }
}

status_of() { q "SELECT status FROM convoy.migrations WHERE name = '$1'"; }

# ============================================================================ throttle
case_throttle() {
    local m=fleet_throttle fill expr i p last_cp last_up hold r_lsn resume_at flow_at t_end
    local tbl="$WORK/trials.txt" reac="$WORK/reaction.txt" reac_u="$WORK/reaction_upd.txt" holds="$WORK/hold.txt" reac_x="$WORK/reaction_x.txt" hb_x
    local done_trials=0 stop_note="" lag_before rows_before rows_after

    log "bringing up the fleet in $CONVOY_LOCAL_DIR (PostgreSQL first, for track_commit_timestamp)"
    cluster_up --no-fleet
    q "ALTER SYSTEM SET track_commit_timestamp = on" >/dev/null
    bash "$LC" down >>"$WORK/up.log" 2>&1 || die "local-cluster.sh down failed"
    cluster_up
    [[ "$(q 'SHOW track_commit_timestamp')" == on ]] || die "track_commit_timestamp is not on"
    log "primary port $PGPORT; creating users ($ROWS rows)"
    make_users users "$ROWS"
    replicas_caught_up || die "the replicas did not catch up with the table load"

    expr="val + (SELECT count(*) FROM generate_series(1, $WORK_N + val % 2))"
    printf -- '-- convoy:name %s\n-- convoy:batch-target 50ms\n-- convoy:backfill score = %s\nALTER TABLE users ADD COLUMN score bigint;\n' \
        "$m" "$expr" >"$WORK/$m.sql"
    submit "$WORK/$m.sql"
    wait_for 60 bash -c "[[ \$(psql -X -At -c \"SELECT coalesce(sum(rows_done), 0) > 0 FROM convoy.backfill WHERE migration = '$m'\") == t ]]" ||
        die "the backfill never started: $(status_of "$m") $(q "SELECT hold_reason FROM convoy.migrations WHERE name = '$m'")"
    fill="$(q "SELECT min(n) FROM convoy.steps WHERE migration = '$m' AND kind = 'backfill'")"
    sleep 2 # batches settle at the target size
    rows_before="$(q "SELECT rows_done FROM convoy.backfill WHERE migration = '$m' AND step = $fill")"
    log "backfill running (fill pass = step $fill, $rows_before rows done); $TRIALS trials"

    : >"$tbl"
    : >"$reac"
    : >"$reac_u"
    : >"$holds"
    : >"$reac_x"
    for i in $(seq 1 "$TRIALS"); do
        if [[ "$(q "SELECT status FROM convoy.steps WHERE migration = '$m' AND n = $fill")" == "done" ]]; then
            stop_note="the fill pass finished after $done_trials trials (use more --rows or --work)"
            break
        fi
        lag_before="$(q "SELECT coalesce(lag_ms::text, '?') FROM convoy.fleet WHERE node = 'r2'")"
        # P: r2's clock right after the pause request returned (same host as the primary)
        p="$(q_r2 "SELECT pg_wal_replay_pause(); SELECT extract(epoch FROM clock_timestamp())" | tail -1)"
        sleep 2.5
        read -r last_cp last_up t_end < <(q "SELECT extract(epoch FROM pg_xact_commit_timestamp(b.xmin)), extract(epoch FROM b.updated_at), s.status FROM convoy.backfill b JOIN convoy.steps s ON s.migration = b.migration AND s.n = b.step WHERE b.migration = '$m' AND b.step = $fill" | tr '|' ' ')
        hold="$(q "SELECT coalesce(extract(epoch FROM min(at))::text, '') FROM convoy.audit WHERE migration = '$m' AND action = 'hold' AND detail LIKE '%replica r2 lag%' AND at >= to_timestamp($p)")"
        # the newest heartbeat row r2 replayed before its replay stopped: the next one, written
        # one interval later, is the oldest it lacks, and its age crosses 1 s at X
        hb_x="$(q_r2 "SELECT extract(epoch FROM written_at) + 0.1 + 1.0 FROM convoy.heartbeat")"
        q_r2 "SELECT pg_wal_replay_resume()" >/dev/null
        resume_at="$(q "SELECT extract(epoch FROM clock_timestamp())")"
        r_lsn="$(q "SELECT pg_current_wal_lsn()")"
        wait_for 60 bash -c "[[ \$(psql -X -At -c \"SELECT count(*) FROM pg_stat_replication WHERE application_name = 'r2' AND replay_lsn >= '$r_lsn'\") == 1 ]]" ||
            die "trial $i: r2 did not catch up within 60 s of the resume"
        if [[ $t_end == "done" ]]; then
            stop_note="the fill pass finished during trial $i (not counted; use more --rows or --work)"
            break
        fi
        wait_for 60 bash -c "[[ \$(psql -X -At -c \"SELECT max(updated_at) > to_timestamp($resume_at) FROM convoy.backfill WHERE migration = '$m'\") == t ]]" ||
            die "trial $i: no batch within 60 s of the resume: $(q "SELECT hold_reason FROM convoy.migrations WHERE name = '$m'")"
        flow_at="$(q "SELECT extract(epoch FROM min(at)) FROM convoy.audit WHERE migration = '$m' AND action = 'release' AND at >= to_timestamp($resume_at)")"
        done_trials=$i
        awk -v i="$i" -v p="$p" -v c="$last_cp" -v u="$last_up" -v h="$hold" -v r="$resume_at" -v f="$flow_at" -v lb="$lag_before" -v x="$hb_x" \
            'BEGIN { printf "%d %s %.0f %.0f %.0f %.0f %.0f %s %s\n", i, lb, (c - p) * 1000, (c - p - 1) * 1000, (u - p - 1) * 1000,
                     (x - p) * 1000, (c - x) * 1000,
                     h == "" ? "none" : sprintf("%.0f", (h - p) * 1000), f == "" ? "?" : sprintf("%.0f", (f - r) * 1000) }' >>"$tbl"
        awk -v x="$hb_x" -v c="$last_cp" 'BEGIN { printf "%.0f\n", (c - x) * 1000 }' >>"$reac_x"
        awk -v p="$p" -v c="$last_cp" 'BEGIN { printf "%.0f\n", (c - p - 1) * 1000 }' >>"$reac"
        awk -v p="$p" -v u="$last_up" 'BEGIN { printf "%.0f\n", (u - p - 1) * 1000 }' >>"$reac_u"
        [[ -n $hold ]] && awk -v p="$p" -v h="$hold" 'BEGIN { printf "%.0f\n", (h - p) * 1000 }' >>"$holds"
        log "trial $i: last batch committed $(tail -1 "$reac") ms after P + 1 s; estimated crossing X at P + $(tail -1 "$tbl" | awk '{print $6}') ms; hold row at P + $(tail -1 "$tbl" | awk '{print $8}') ms"
        sleep 0.5 # the lag back to normal before the next pause
    done
    rows_after="$(q "SELECT rows_done FROM convoy.backfill WHERE migration = '$m' AND step = $fill")"
    ((done_trials > 0)) || die "no trial completed: $stop_note"

    local n p50 p99 max u50 u99 h50 hmin hmax nh rate
    n="$(wc -l <"$reac")"
    p50="$(pctl 50 "$reac")"
    p99="$(pctl 99 "$reac")"
    max="$(pctl 100 "$reac")"
    u50="$(pctl 50 "$reac_u")"
    u99="$(pctl 99 "$reac_u")"
    nh="$(wc -l <"$holds")"
    h50="$(pctl 50 "$holds")"
    hmin="$(pctl 0 "$holds")"
    hmax="$(pctl 100 "$holds")"
    rate="$(q "SELECT round(rows_done / greatest(extract(epoch FROM updated_at - started_at), 0.001)) FROM convoy.backfill WHERE migration = '$m' AND step = $fill")"

    echo
    echo "=== fleet_bench --case throttle: throttle reaction ==="
    echo "command:    $PROG --case throttle --trials $TRIALS --rows $ROWS --work $WORK_N"
    machine_info
    echo "cluster:    primary + replicas r1, r2 (streaming), an agent each, 1 coordinator; heartbeat 100 ms, max_lag 1 s"
    echo "migration:  $(tr '\n' ' ' <"$WORK/$m.sql")"
    echo "            fill pass = step $fill; $rows_before..$rows_after rows done during the trials; fill pass average $rate rows/s (holds included)"
    echo
    echo "per trial (ms; P = r2's clock_timestamp() right after pg_wal_replay_pause() returned):"
    echo "  lag_before  r2's lag in convoy.fleet before the pause"
    echo "  commit-P    the fill pass's last batch commit (pg_xact_commit_timestamp of its checkpoint row) - P"
    echo "  reaction    commit - (P + 1 s)   [the goal: p99 <= 300]"
    echo "  upd-react   max(updated_at) - (P + 1 s): the same batch's transaction start (now())"
    echo "  X-P         X = the estimated crossing: written_at of the newest heartbeat row r2 had replayed"
    echo "              (read on r2 while paused) + 100 ms (the next one, the oldest r2 lacks) + 1 s"
    echo "  commit-X    the last batch's commit - X"
    echo "  hold-P      the first 'hold' audit row for r2's lag - P (convoy audits a hold only when the"
    echo "              next ask, one heartbeat later, still holds: about 100 ms after the first HOLD verdict)"
    echo "  resume->go  the 'release' audit row - the resume"
    printf '  %5s %10s %9s %9s %9s %6s %9s %7s %10s\n' trial lag_before commit-P reaction upd-react X-P commit-X hold-P resume-go
    awk '{ printf "  %5s %10s %9s %9s %9s %6s %9s %7s %10s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }' "$tbl"
    echo
    echo "reaction (commit - (P + 1 s)), $n trials: p50 $p50 ms, p99 $p99 ms (nearest rank; max $max ms); from updated_at: p50 $u50 ms, p99 $u99 ms"
    echo "last batch commit - X (the estimated crossing): p50 $(pctl 50 "$reac_x") ms, p99 $(pctl 99 "$reac_x") ms (min $(pctl 0 "$reac_x"), max $(pctl 100 "$reac_x"))"
    echo "hold row - P: $nh of $n trials audited a hold for r2's lag; p50 $h50 ms (min $hmin, max $hmax)"
    [[ -n $stop_note ]] && echo "note: $stop_note"
    if ((p99 <= 300)); then
        echo "SUMMARY throttle: p99 reaction $p99 ms <= 300 ms (met); p50 $p50 ms; hold row at P + $h50 ms (p50); $n trials"
    else
        echo "SUMMARY throttle: p99 reaction $p99 ms > 300 ms (NOT met); p50 $p50 ms; hold row at P + $h50 ms (p50); $n trials"
    fi
}

# ========================================================================== throughput
# lag_sampler FILE [fleet]: one psql session, \watch every 100 ms: epoch|source|lag_ms|bytes
lag_sampler() {
    local out="$1" sql
    sql="SELECT extract(epoch FROM clock_timestamp()), 'pg:' || application_name,
                coalesce(round(extract(epoch FROM replay_lag) * 1000)::text, ''),
                pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint
           FROM pg_stat_replication"
    if [[ ${2:-} == fleet ]]; then
        sql+=" UNION ALL SELECT extract(epoch FROM clock_timestamp()), 'fleet:' || node,
                coalesce(lag_ms::text, ''), lag_bytes FROM convoy.fleet WHERE role = 'replica'"
    fi
    printf '%s \\watch 0.1\n' "$sql" | nice -n 5 psql -X -q -At -F'|' -P pager=off >"$out" 2>"$out.err" &
    SAMPLER_PID=$!
    BG_PIDS+=("$SAMPLER_PID")
}
stop_sampler() {
    kill -INT "$SAMPLER_PID" 2>/dev/null || true
    kill -TERM "$SAMPLER_PID" 2>/dev/null || true
    wait "$SAMPLER_PID" 2>/dev/null || true
}
# worst_lag FILE FROM TO PREFIX: "max_ms max_bytes samples-per-replica" of the rows of
# PREFIX* in [FROM, TO]
worst_lag() {
    awk -F'|' -v a="$2" -v b="$3" -v pre="$4" '$1 >= a && $1 <= b && index($2, pre) == 1 {
            n++; src[$2] = 1; if ($3 != "" && $3 + 0 > ms) ms = $3 + 0; if ($4 + 0 > by) by = $4 + 0 }
        END { k = 0; for (s in src) k++; printf "%d %d %d\n", ms, by, k ? n / k : 0 }' "$1"
}
ckpts() { q "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter"; }
# replay_done_after LSN T0: seconds from T0 until both replicas had replayed LSN (polled)
replay_done_after() {
    local lsn="$1" t0="$2"
    wait_for 300 bash -c "[[ \$(psql -X -At -c \"SELECT count(*) FROM pg_stat_replication WHERE replay_lsn >= '$lsn'\") == 2 ]]" || { echo "timeout"; return; }
    q "SELECT round(extract(epoch FROM clock_timestamp() - to_timestamp($t0))::numeric * 1000)"
}

# (a) one UPDATE of users_b, timed by the server: clock_timestamp() before it and after its commit
phase_a() {
    local out
    log "(a) UPDATE users_b SET score = val * 2"
    q "ALTER TABLE users_b ADD COLUMN score bigint" >/dev/null
    LOAD_A="$(cut -d' ' -f1 /proc/loadavg)"
    lag_sampler "$WORK/lag_a$REP.txt"
    sleep 0.5
    ckpt_a="$(ckpts)"
    out="$(psql_p -F' ' -c "SELECT extract(epoch FROM clock_timestamp())" -c "UPDATE users_b SET score = val * 2" \
        -c "SELECT extract(epoch FROM clock_timestamp()), pg_current_wal_lsn()")"
    a0="$(head -1 <<<"$out")"
    read -r a1 a_lsn < <(tail -1 <<<"$out")
    a_catch="$(replay_done_after "$a_lsn" "$a1")"
    ckpt_a="$(($(ckpts) - ckpt_a))"
    sleep 0.3
    stop_sampler
    a_ms="$(awk -v a="$a0" -v b="$a1" 'BEGIN { printf "%.0f", (b - a) * 1000 }')"
    [[ "$(q "SELECT count(*) FROM users_b WHERE score IS DISTINCT FROM val * 2")" == 0 ]] || die "(a) left rows unfilled"
    size_a="$(q "SELECT pg_size_pretty(pg_total_relation_size('users_b'))")"
    q "VACUUM ANALYZE users_b" >/dev/null
    q "CHECKPOINT" >/dev/null
    replicas_caught_up || die "the replicas did not catch up after (a)"
}

# (b) convoy's backfill of the same expression on users_a, through the coordinator
phase_b() {
    local bt_line=""
    log "(b) convoy's backfill of users_a through the coordinator"
    [[ -n $BATCH_TARGET ]] && bt_line="-- convoy:batch-target ${BATCH_TARGET}ms"$'\n'
    printf -- '-- convoy:name %s\n%s-- convoy:backfill score = val * 2\nALTER TABLE users_a ADD COLUMN score bigint;\n' \
        "$m" "$bt_line" >"$WORK/$m.sql"
    LOAD_B="$(cut -d' ' -f1 /proc/loadavg)"
    ckpt_b="$(ckpts)"
    submit "$WORK/$m.sql"
    lag_sampler "$WORK/lag_b$REP.txt" fleet
    wait_for 600 bash -c "[[ \$(psql -X -At -c \"SELECT status FROM convoy.migrations WHERE name = '$m'\") =~ ^(done|failed|paused|aborted)$ ]]" ||
        die "convoy's migration did not end within 600 s: $(status_of "$m")"
    [[ "$(status_of "$m")" == "done" ]] || die "convoy's migration ended $(status_of "$m"): $(q "SELECT hold_reason FROM convoy.migrations WHERE name = '$m'")"
    read -r b0 b1 fill_ms < <(q "SELECT extract(epoch FROM min(started_at)), extract(epoch FROM max(finished_at)),
            (SELECT duration_ms FROM convoy.steps WHERE migration = '$m' AND kind = 'backfill' ORDER BY n LIMIT 1)
            FROM convoy.steps WHERE migration = '$m' AND kind = 'backfill'" | tr '|' ' ')
    b_lsn="$(q "SELECT pg_current_wal_lsn()")"
    b_catch="$(replay_done_after "$b_lsn" "$b1")"
    ckpt_b="$(($(ckpts) - ckpt_b))"
    sleep 0.3
    stop_sampler
    b_ms="$(awk -v a="$b0" -v b="$b1" 'BEGIN { printf "%.0f", (b - a) * 1000 }')"
    [[ "$(q "SELECT count(*) FROM users_a WHERE score IS DISTINCT FROM val * 2")" == 0 ]] || die "(b) left rows unfilled"
    q "VACUUM ANALYZE users_a" >/dev/null
    q "CHECKPOINT" >/dev/null
    replicas_caught_up || die "the replicas did not catch up after (b)"
}

# one repetition: fresh tables, (a) and (b) in ORDER; appends its row to $WORK/reps.txt and
# prints its details
throughput_rep() {
    local a0 a1 a_ms a_lsn a_catch b0 b1 b_ms b_lsn b_catch fill_ms ratio la lb lf holds steps
    local rows_upd ckpt_a ckpt_b size_a m="fleet_throughput_$REP" order="$1" end_a end_b between

    q "SET client_min_messages = warning; DROP TABLE IF EXISTS users_a, users_b" >/dev/null
    log "rep $REP: creating users_a and users_b ($ROWS rows each)"
    make_users users_a "$ROWS"
    make_users users_b "$ROWS"
    q "CHECKPOINT" >/dev/null
    replicas_caught_up || die "the replicas did not catch up with the table load"
    if [[ $order == ba ]]; then
        phase_b
        phase_a
    else
        phase_a
        phase_b
    fi
    steps="$(q "SELECT string_agg(n || ' ' || kind || ' ' || coalesce(duration_ms, 0) || ' ms', '; ' ORDER BY n) FROM convoy.steps WHERE migration = '$m'")"
    # the window's time outside its steps: after each step convoy waits until every replica
    # has replayed it (their reports come every heartbeat)
    between="$(q "SELECT $b_ms - sum(duration_ms) FROM convoy.steps WHERE migration = '$m' AND n BETWEEN
            (SELECT min(n) FROM convoy.steps WHERE migration = '$m' AND kind = 'backfill') AND
            (SELECT max(n) FROM convoy.steps WHERE migration = '$m' AND kind = 'backfill')")"
    rows_upd="$(q "SELECT sum(rows_updated) || ' rows written in ' || sum(batches) || ' batches (' || string_agg('step ' || step || ': ' || batches || ' batches, last size ' || coalesce(batch_size, 0), ', ' ORDER BY step) || ')' FROM convoy.backfill WHERE migration = '$m'")"
    # every hold of the migration, by kind (its figures replaced by N), from the release rows
    holds="$(q "SELECT coalesce(string_agg(k || ': ' || n || ' x, ' || ms || ' ms', '; '), 'none') FROM (
            SELECT regexp_replace(regexp_replace(detail, '^held: (holding: )?', ''), '[0-9][0-9./A-F]*', 'N', 'g') AS k,
                   count(*) AS n, sum(duration_ms) AS ms
              FROM convoy.audit WHERE migration = '$m' AND action = 'release' GROUP BY 1 ORDER BY 3 DESC) h")"
    # the worst lag from the start of each until both replicas had replayed its end
    end_a="$(awk -v a="$a1" -v c="${a_catch/timeout/0}" 'BEGIN { print a + c / 1000 }')"
    end_b="$(awk -v a="$b1" -v c="${b_catch/timeout/0}" 'BEGIN { print a + c / 1000 }')"
    la="$(worst_lag "$WORK/lag_a$REP.txt" "$a0" "$end_a" pg:)"
    lb="$(worst_lag "$WORK/lag_b$REP.txt" "$b0" "$end_b" pg:)"
    lf="$(worst_lag "$WORK/lag_b$REP.txt" "$b0" "$end_b" fleet:)"
    ratio="$(awk -v a="$a_ms" -v b="$b_ms" 'BEGIN { printf "%.3f", a / b }')"
    # rep order load_a load_b a_ms b_ms ratio fill_ms lag_a replay_a lag_b fleet_b replay_b
    echo "$REP ${order:0:1},${order:1:1} $LOAD_A $LOAD_B $a_ms $b_ms $ratio $fill_ms ${la%% *} $a_catch ${lb%% *} ${lf%% *} $b_catch" >>"$WORK/reps.txt"
    {
        echo "rep $REP (order $( [[ $order == ba ]] && echo "(b) then (a)" || echo "(a) then (b)")):"
        echo "  (a) $a_ms ms ($(awk -v n="$ROWS" -v t="$a_ms" 'BEGIN { printf "%.0f", n / (t / 1000) }') rows/s), load avg (1 min) at its start $LOAD_A; table $size_a after it;"
        echo "      both replicas replayed its commit $a_catch ms after it; worst lag from its start until then: replay_lag ${la%% *} ms, $(cut -d' ' -f2 <<<"$la") bytes ($(cut -d' ' -f3 <<<"$la") samples per replica); checkpoints started: $ckpt_a"
        echo "  (b) $b_ms ms ($(awk -v n="$ROWS" -v t="$b_ms" 'BEGIN { printf "%.0f", n / (t / 1000) }') rows/s; the fill pass alone $fill_ms ms), load avg (1 min) at its start $LOAD_B; checkpoints started: $ckpt_b"
        echo "      steps: $steps"
        echo "      the window outside its steps' duration_ms: $between ms (between steps: each step's replay on every replica)"
        echo "      $rows_upd"
        echo "      holds (audit log release rows): $holds"
        echo "      both replicas replayed its end $b_catch ms after its last backfill step; worst lag from its start until then: replay_lag ${lb%% *} ms, $(cut -d' ' -f2 <<<"$lb") bytes ($(cut -d' ' -f3 <<<"$lb") samples per replica); convoy.fleet lag_ms ${lf%% *} ms ($(cut -d' ' -f3 <<<"$lf") samples per replica)"
        echo "  ratio (a)/(b) $ratio"
    } >>"$WORK/reps_detail.txt"
}

case_throughput() {
    local order=ab other=ba r med min max
    ((REVERSE)) && order=ba other=ab

    log "bringing up the fleet in $CONVOY_LOCAL_DIR"
    cluster_up
    log "primary port $PGPORT"
    : >"$WORK/reps.txt"
    : >"$WORK/reps_detail.txt"
    for r in $(seq 1 "$REPEAT"); do
        REP=$r
        # repetitions alternate the order, so that neither phase always runs second
        if ((r % 2)); then throughput_rep "$order"; else throughput_rep "$other"; fi
    done
    awk '{ print $7 }' "$WORK/reps.txt" >"$WORK/ratios.txt"
    med="$(sort -g "$WORK/ratios.txt" | awk '{ v[NR] = $1 } END { printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"
    min="$(sort -g "$WORK/ratios.txt" | head -1)"
    max="$(sort -g "$WORK/ratios.txt" | tail -1)"

    echo
    echo "=== fleet_bench --case throughput: backfill throughput with 2 replicas, max_lag 1 s ==="
    echo "command:    $PROG --case throughput --rows $ROWS --repeat $REPEAT${BATCH_TARGET:+ --batch-target $BATCH_TARGET}$( ((REVERSE)) && echo ' --reverse')"
    machine_info
    echo "cluster:    primary + replicas r1, r2 (streaming, hot_standby_feedback off), an agent each, 1 coordinator; heartbeat 100 ms, max_lag 1 s"
    echo "tables:     users_a, users_b (id bigint PRIMARY KEY, email text, val int), $ROWS rows each, created afresh for each repetition; autovacuum off"
    echo "(a)         ALTER TABLE users_b ADD COLUMN score bigint; then timed by the server: UPDATE users_b SET score = val * 2;"
    echo "(b)         convoy apply --cluster --detach of: $(tr '\n' ' ' <"$WORK/fleet_throughput_1.sql")"
    echo "            timed from the first backfill step's started_at to the last one's finished_at (convoy.steps)"
    echo
    cat "$WORK/reps_detail.txt"
    echo
    echo "ms; lag = the worst replay_lag (pg_stat_replication) / convoy.fleet lag_ms from the start until both replicas replayed the end; replay = ms from the end until both replicas had replayed it"
    printf '  %3s %5s %11s %7s %7s %6s %8s %10s %9s %10s %10s %9s\n' rep order "load (a/b)" "(a)" "(b)" ratio "fill" "lag (a)" "replay(a)" "lag (b)" "fleet (b)" "replay(b)"
    awk '{ printf "  %3s %5s %11s %7s %7s %6.2f %8s %10s %9s %10s %10s %9s\n", $1, $2, $3 "/" $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 }' "$WORK/reps.txt"
    echo
    echo "SUMMARY throughput: ratio (a)/(b) median $med over $REPEAT repetition(s) (min $min, max $max) for $ROWS rows; worst replica lag: (a) replay_lag $(awk '$9 > m { m = $9 } END { print m + 0 }' "$WORK/reps.txt") ms, (b) replay_lag $(awk '$11 > m { m = $11 } END { print m + 0 }' "$WORK/reps.txt") ms, convoy.fleet $(awk '$12 > m { m = $12 } END { print m + 0 }' "$WORK/reps.txt") ms"
}

# ============================================================================== agents
# cpu_ticks PID: utime + stime (all threads), in clock ticks
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
mono() { awk '{ print $1 }' /proc/uptime; }

case_agents() {
    local cfg="$WORK/agents.ini" keys="$WORK/keys" port conninfo coord_pid sim_pid hz
    local t0 c0 t1 c1 i0 ic0 i1 ic1 s0 s1 cpu idle_cpu sim_cpu rss hwm rss0 heard back summary

    log "bringing up PostgreSQL in $CONVOY_LOCAL_DIR (--no-fleet)"
    cluster_up --no-fleet
    mkdir -m 0700 "$keys"
    "$CONVOY" keygen --out "$keys/coordinator" >/dev/null 2>&1 || die "convoy keygen failed"
    "$CONVOY" keygen --out "$keys/primary" >/dev/null 2>&1 || die "convoy keygen failed"
    "$AGENTSIM" --keygen "$AGENTS" --out "$keys/sim.keys" || die "convoy-agentsim --keygen failed"
    port="$(free_port)" || die "no free TCP port"
    conninfo="$(sed -n 's/^conninfo = //p' "$CONVOY_CLUSTER" | head -1)" # the primary's
    {
        echo "; $PROG --case agents: $AGENTS simulated agents (convoy-agentsim), no agent for the primary"
        echo "[cluster]"
        echo "name = bench"
        echo "bind = tcp://127.0.0.1:$port"
        echo "key_file = $keys/coordinator.key"
        echo "heartbeat = 100ms"
        echo "max_lag = 1s"
        echo
        echo "[node primary]"
        echo "role = primary"
        echo "conninfo = $conninfo"
        echo "agent_key = $keys/primary.pub"
        awk -v ci="$conninfo" '{ printf "\n[node %s]\nrole = replica\nconninfo = %s\nagent_key = %s\n", $1, ci, $2 }' "$keys/sim.keys"
    } >"$cfg"

    "$CONVOY" coordinator --config "$cfg" >"$WORK/coordinator.log" 2>&1 &
    coord_pid=$!
    BG_PIDS+=("$coord_pid")
    wait_for 10 grep -q "listening on" "$WORK/coordinator.log" ||
        { cat "$WORK/coordinator.log" >&2; die "the coordinator did not start"; }
    hz="$(getconf CLK_TCK)"
    sleep 1
    # the coordinator alone: no agent, no migration
    i0="$(mono)"
    ic0="$(cpu_ticks "$coord_pid")"
    sleep 5
    i1="$(mono)"
    ic1="$(cpu_ticks "$coord_pid")"
    rss0="$(status_kb "$coord_pid" VmRSS)"
    idle_cpu="$(awk -v c="$((ic1 - ic0))" -v hz="$hz" -v a="$i0" -v b="$i1" 'BEGIN { printf "%.2f", c / hz / (b - a) * 100 }')"

    log "coordinator pid $coord_pid on tcp://127.0.0.1:$port; $AGENTS simulated agents for $SECONDS_RUN s"
    nice -n 5 "$AGENTSIM" --keys "$keys/sim.keys" --endpoint "tcp://127.0.0.1:$port" \
        --server-key "$keys/coordinator.pub" --seconds "$SECONDS_RUN" >"$WORK/agentsim.out" 2>"$WORK/agentsim.err" &
    sim_pid=$!
    BG_PIDS+=("$sim_pid")
    sleep "$WARMUP_S"
    t0="$(mono)"
    c0="$(cpu_ticks "$coord_pid")"
    s0="$(cpu_ticks "$sim_pid")"
    sleep "$((SECONDS_RUN - WARMUP_S - 1))"
    t1="$(mono)"
    c1="$(cpu_ticks "$coord_pid")"
    s1="$(cpu_ticks "$sim_pid")"
    rss="$(status_kb "$coord_pid" VmRSS)"
    hwm="$(status_kb "$coord_pid" VmHWM)"
    kill -0 "$coord_pid" 2>/dev/null || die "the coordinator died"
    wait "$sim_pid" || log "convoy-agentsim exited with status $? (see below)"
    summary="$(tail -1 "$WORK/agentsim.out")"
    cpu="$(awk -v c="$((c1 - c0))" -v hz="$hz" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", c / hz / (b - a) * 100 }')"
    sim_cpu="$(awk -v c="$((s1 - s0))" -v hz="$hz" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", c / hz / (b - a) * 100 }')"
    heard="$(grep -oE 'agent sim[0-9]+ is connected' "$WORK/coordinator.log" | sort -u | wc -l)"
    back="$(grep -cE 'agent sim[0-9]+ is back' "$WORK/coordinator.log" || true)"

    echo
    echo "=== fleet_bench --case agents: the coordinator with $AGENTS simulated agents ==="
    echo "command:    $PROG --case agents --agents $AGENTS --seconds $SECONDS_RUN"
    machine_info
    echo "setup:      PostgreSQL primary (local-cluster.sh up --no-fleet; its idle replicas run too), no migration;"
    echo "            convoy coordinator --config with $AGENTS [node simNNN] (inline CURVE keys) + [node primary] (no agent);"
    echo "            nice -n 5 convoy-agentsim: $AGENTS DEALERs in one thread, CURVE, HELLO + a replica REPORT every 100 ms each"
    echo "simulator:  $summary"
    echo "            its own CPU in the window: $sim_cpu% of one core"
    echo "coordinator log: 'agent simNNN is connected' for $heard of $AGENTS agents; 'is back' (an agent silent > 3 heartbeats) $back times; $(grep -c 'rejected a connection' "$WORK/coordinator.log" || true) rejected connections"
    echo
    echo "coordinator, no agents (5 s):          CPU $idle_cpu% of one core, VmRSS $rss0 kB"
    echo "coordinator, $AGENTS agents ($(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s after a ${WARMUP_S} s warm-up): CPU $cpu% of one core ($((c1 - c0)) ticks at $hz Hz), VmRSS $rss kB, VmHWM $hwm kB"
    echo
    local verdict="met"
    awk -v c="$cpu" 'BEGIN { exit !(c < 10) }' || verdict="NOT met"
    ((heard == AGENTS)) || verdict="$verdict; only $heard of $AGENTS agents heard"
    echo "SUMMARY agents: coordinator CPU $cpu% of one core with $AGENTS agents at 10 Hz (goal < 10%: $verdict); VmRSS $rss kB, VmHWM $hwm kB; heard $heard/$AGENTS"
}

# ======================================================================== invalidation
rc() { redis-cli -p "$RPORT" "$@"; }
# keys_left: how many of user:1..user:N still exist (one EVAL, EXISTS per key)
keys_left() { rc EVAL "local n = 0 for i = 1, $ROWS do if redis.call('EXISTS', 'user:' .. i) == 1 then n = n + 1 end end return n" 0; }
# set_keys: FLUSHALL, then user:1..user:N SET to a short value (one EVAL)
set_keys() {
    rc FLUSHALL >/dev/null
    rc EVAL "for i = 1, $ROWS do redis.call('SET', 'user:' .. i, 'cached') end return 1" 0 >/dev/null
    [[ "$(rc DBSIZE)" == "$ROWS" ]] || die "Redis holds $(rc DBSIZE) keys, not $ROWS"
}
# unlink_stats: "calls usec" of UNLINK since the last CONFIG RESETSTAT (INFO commandstats)
unlink_stats() {
    rc INFO commandstats | tr -d '\r' | awk -F'[:=,]' '$1 == "cmdstat_unlink" { c = $3; u = $5 } END { printf "%d %d\n", c, u }'
}
inv_tables() {
    local t
    q "SET client_min_messages = warning; DROP TABLE IF EXISTS profiles, profiles_b" >/dev/null
    for t in profiles profiles_b; do
        q "CREATE TABLE $t (id bigint PRIMARY KEY, val int)" >/dev/null
        q "INSERT INTO $t SELECT g, g % 97 FROM generate_series(1, $ROWS) g" >/dev/null
        q "ALTER TABLE $t SET (autovacuum_enabled = false)" >/dev/null
        q "VACUUM ANALYZE $t" >/dev/null
    done
    q "CHECKPOINT" >/dev/null
    replicas_caught_up || die "the replicas did not catch up with the table load"
}

# pipe_unlink P: redis-cli --pipe of the UNLINK commands, timed from its start to its exit;
# sets P_MS, P_RATE, P_REPLY and P_END (epoch s); the keys must be SET beforehand
pipe_unlink() {
    local t0 t1 out reply
    t0=$EPOCHREALTIME
    out="$("${PIN[@]}" redis-cli -p "$RPORT" --pipe <"$WORK/unlink.resp" 2>&1)" || { echo "$out" >&2; die "redis-cli --pipe failed"; }
    t1=$EPOCHREALTIME
    reply="$(grep -E '^errors: ' <<<"$out" | tail -1)"
    [[ $reply == "errors: 0, replies: $(((ROWS + 999) / 1000))" ]] || die "redis-cli --pipe: '$reply' (expected errors: 0, replies: $(((ROWS + 999) / 1000)))"
    printf -v "$1_REPLY" '%s' "$reply"
    printf -v "$1_END" '%s' "$t1"
    printf -v "$1_MS" '%s' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) * 1000 }')"
    printf -v "$1_RATE" '%s' "$(awk -v n="$ROWS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')"
}

# (1) the baseline: redis-cli --pipe of the UNLINK commands on a quiet machine
inv_baseline() {
    set_keys
    rc CONFIG RESETSTAT >/dev/null
    LOAD_BASE="$(cut -d' ' -f1 /proc/loadavg)"
    pipe_unlink BASE
    read -r BASE_CALLS BASE_USEC < <(unlink_stats)
    BASE_LEFT="$(keys_left)"
    [[ $BASE_LEFT == 0 ]] || die "the baseline left $BASE_LEFT keys"
    log "(1) baseline: $ROWS keys UNLINKed in $BASE_MS ms ($BASE_RATE keys/s)"
}

# inv_migrate NAME TABLE CACHE(0|1) [HOOK...]: the backfill through the coordinator, until
# done; HOOK (a command and its arguments) runs once the fill pass has committed a batch
inv_migrate() {
    local m="$1" t="$2" cache_line="" hook=("${@:4}")
    ((${3})) && cache_line="-- convoy:cache key user:{id}"$'\n'
    printf -- '-- convoy:name %s\n%s-- convoy:backfill score = val * 3\nALTER TABLE %s ADD COLUMN score int;\n' \
        "$m" "$cache_line" "$t" >"$WORK/$m.sql"
    submit "$WORK/$m.sql"
    if ((${#hook[@]})); then
        wait_for 60 bash -c "[[ \$(psql -X -At -c \"SELECT count(*) FROM convoy.backfill WHERE migration = '$m' AND rows_updated > 0\") != 0 ]]" ||
            die "$m: the fill pass did not commit a batch within 60 s"
        "${hook[@]}"
    fi
    wait_for 150 bash -c "[[ \$(psql -X -At -c \"SELECT status FROM convoy.migrations WHERE name = '$m'\") =~ ^(done|failed|paused|aborted)$ ]]" ||
        die "$m did not end within 150 s: $(status_of "$m") $(q "SELECT hold_reason FROM convoy.migrations WHERE name = '$m'")"
    [[ "$(status_of "$m")" == "done" ]] || die "$m ended $(status_of "$m"): $(q "SELECT hold_reason FROM convoy.migrations WHERE name = '$m'")"
    [[ "$(q "SELECT count(*) FROM $t WHERE score IS DISTINCT FROM val * 3")" == 0 ]] || die "$m left rows unfilled"
}
# fill_of M: "duration_ms rows batches last_batch_size backfill_window_ms" of M's fill pass
# (its first backfill step; the window runs from the first backfill step's start to the
# last one's end)
fill_of() {
    q "SELECT s.duration_ms, b.rows_updated, b.batches, coalesce(b.batch_size, 0),
              (SELECT round(extract(epoch FROM max(finished_at) - min(started_at)) * 1000)
                 FROM convoy.steps WHERE migration = s.migration AND kind = 'backfill')
         FROM convoy.steps s JOIN convoy.backfill b ON b.migration = s.migration AND b.step = s.n
        WHERE s.migration = '$1' AND s.kind = 'backfill' ORDER BY s.n LIMIT 1" | tr '|' ' '
}

# (2) convoy's backfill of profiles with -- convoy:cache key user:{id}
inv_on() {
    local m="inv_on_$REP"
    set_keys
    rc CONFIG RESETSTAT >/dev/null
    LOAD_ON="$(cut -d' ' -f1 /proc/loadavg)"
    log "(2) convoy's backfill of profiles with -- convoy:cache key user:{id} ($m)"
    inv_migrate "$m" profiles 1
    wait_for 60 bash -c "[[ \$(psql -X -At -c \"SELECT count(*) FROM convoy.invalidations WHERE migration = '$m' AND confirmed_at IS NULL\") == 0 ]]" ||
        die "$m: $(q "SELECT count(*) FROM convoy.invalidations WHERE migration = '$m' AND confirmed_at IS NULL") invalidations still unconfirmed 60 s after the migration was done"
    read -r ON_CALLS ON_USEC < <(unlink_stats)
    ON_LEFT="$(keys_left)"
    # rows keys removed first_ms confirmed_ms lag_p50 lag_max tail_ms attempts batch_rate
    # batch_rate: the keys over the sum of each row's first_at - created_at, i.e. the rate
    # while there was something to invalidate: from the moment a batch wrote its keys (just
    # before its commit) to the moment they were gone
    read -r INV_ROWS INV_KEYS INV_REMOVED INV_FIRST_MS INV_CONF_MS INV_LAG50 INV_LAGMAX INV_TAIL INV_ATTEMPTS INV_BATCH_RATE < <(q "
        SELECT count(*), sum(cardinality(keys)), sum(removed),
               round(extract(epoch FROM max(first_at) - min(created_at)) * 1000),
               round(extract(epoch FROM max(confirmed_at) - min(created_at)) * 1000),
               round(percentile_disc(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first_at - created_at) * 1000)),
               round(max(extract(epoch FROM first_at - created_at) * 1000)),
               round(extract(epoch FROM max(first_at) - max(created_at)) * 1000),
               sum(attempts),
               round((sum(removed) / nullif(sum(extract(epoch FROM first_at - created_at)), 0))::numeric)
          FROM convoy.invalidations WHERE migration = '$m' AND kind = 'key'" | tr '|' ' ')
    # work_rate: the keys over the agent's own working time on them during the backfill: per
    # claim (one agent transaction, claimed_at = its BEGIN), from claimed_at to its last
    # first_at; the time between batches, when there is nothing to unlink, is not counted
    read -r INV_CLAIMS INV_WORK_MS INV_WORK_RATE < <(q "
        SELECT count(*), round(sum(w) * 1000), round((sum(k) / nullif(sum(w), 0))::numeric)
          FROM (SELECT sum(removed) k, extract(epoch FROM max(first_at) - claimed_at) w
                  FROM convoy.invalidations WHERE migration = '$m' AND kind = 'key' GROUP BY claimed_at) c" | tr '|' ' ')
    INV_STEPS="$(q "SELECT string_agg('step ' || step || ': ' || n || ' rows, ' || k || ' keys, ' || r || ' removed', '; ' ORDER BY step)
                  FROM (SELECT step, count(*) n, sum(cardinality(keys)) k, sum(removed) r FROM convoy.invalidations
                         WHERE migration = '$m' GROUP BY step) x")"
    INV_OTHER="$(q "SELECT count(*) FROM convoy.invalidations WHERE migration = '$m' AND kind <> 'key'")"
    read -r ON_FILL ON_ROWS ON_BATCHES ON_BSIZE ON_WIN < <(fill_of "$m")
    log "(2) $INV_REMOVED keys removed: first pass window $INV_FIRST_MS ms, to the last confirmation $INV_CONF_MS ms; fill pass $ON_FILL ms; $ON_LEFT keys left"
}

# (3) the same backfill of profiles_b, no cache directive; (1b), the baseline again, during
# its fill pass: the same competition for the CPU as (2)
inv_off() {
    local m="inv_off_$REP" fill_end
    set_keys
    LOAD_OFF="$(cut -d' ' -f1 /proc/loadavg)"
    log "(3) convoy's backfill of profiles_b without the cache directive ($m), (1b) during it"
    inv_migrate "$m" profiles_b 0 pipe_unlink LOADED
    [[ "$(q "SELECT count(*) FROM convoy.invalidations WHERE migration = '$m'")" == 0 ]] || die "$m wrote invalidations"
    read -r OFF_FILL OFF_ROWS OFF_BATCHES OFF_BSIZE OFF_WIN < <(fill_of "$m")
    LOADED_LEFT="$(keys_left)"
    [[ $LOADED_LEFT == 0 ]] || die "(1b) left $LOADED_LEFT keys"
    # (1b) counts only if it ended before the fill pass did
    fill_end="$(q "SELECT extract(epoch FROM max(finished_at)) FROM convoy.steps WHERE migration = '$m' AND kind = 'backfill'")"
    LOADED_INSIDE="$(awk -v a="$LOADED_END" -v b="$fill_end" 'BEGIN { print (a < b) ? "yes" : "no" }')"
    log "(3) fill pass $OFF_FILL ms; (1b) $ROWS keys UNLINKed in $LOADED_MS ms during it ($LOADED_RATE keys/s; ended inside the backfill: $LOADED_INSIDE)"
}

# (4) the cache agent's own rate, when it is the bottleneck: the same keys put in the outbox
# while the agent is stopped (SIGSTOP; nothing is being migrated, so nothing is held), in rows
# of <= 30,000 keys like the fill pass's batches; then SIGCONT. From the resume (the server's
# clock) to the last first_at.
inv_drain() {
    local m="inv_drain_$REP" pid t0
    set_keys
    pid="$(cat "$CONVOY_LOCAL_DIR/pids/agent-cache.pid")"
    kill -STOP "$pid"
    q "INSERT INTO convoy.invalidations (migration, step, kind, keys) SELECT '$m', 1, 'key', array_agg('user:' || g ORDER BY g) FROM generate_series(1, $ROWS) g GROUP BY (g - 1) / 30000 ORDER BY min(g)" >/dev/null
    t0="$(q "SELECT extract(epoch FROM clock_timestamp())")"
    rc CONFIG RESETSTAT >/dev/null
    kill -CONT "$pid"
    # no polling while the agent works: a psql started every 50 ms would take CPU from it
    # and from Redis on the same cores, which the baseline does not have to share
    sleep 1
    wait_for 60 bash -c "[[ \$(psql -X -At -c \"SELECT count(*) FROM convoy.invalidations WHERE migration = '$m' AND confirmed_at IS NULL\") == 0 ]]" ||
        die "$m: the cache agent did not drain the backlog within 60 s"
    read -r DR_ROWS DR_REMOVED DR_MS < <(q "SELECT count(*), sum(removed), round((extract(epoch FROM max(first_at)) - $t0) * 1000, 1) FROM convoy.invalidations WHERE migration = '$m'" | tr '|' ' ')
    read -r DR_CALLS DR_USEC < <(unlink_stats)
    DR_LEFT="$(keys_left)"
    DR_RATE="$(awk -v n="$DR_REMOVED" -v t="$DR_MS" 'BEGIN { printf "%.0f", n / (t / 1000) }')"
    log "(4) backlog of $DR_ROWS rows: $DR_REMOVED keys removed $DR_MS ms after SIGCONT ($DR_RATE keys/s); Redis cmdstat_unlink: $DR_CALLS calls, $DR_USEC us in the server; $DR_LEFT keys left"
}

# The --cache-cpu split in words: what runs on the cache CPU $1, what on the others ($2: the
# agent session's pid, when known).
cpu_split() {
    local session="the agent's server session${2:+ (pid $2)}"
    if [[ $SESSION_CPU == cache ]]; then
        echo "redis-server, the cache agent, $session and redis-cli on CPU $1; everything else on the others"
    else
        echo "redis-server, the cache agent and redis-cli on CPU $1; everything else, $session included, on the others"
    fi
}

# --cache-cpu: redis-server, the cache agent and, unless --session-cpu db, its session (application_name
# 'convoy-agent cache') on the last CPU, the rest of the cluster and this script on the others
pin_cache() {
    local last pids=() kids f p session
    last=$(($(getconf _NPROCESSORS_ONLN) - 1))
    ((last >= 1)) || die "--cache-cpu needs at least 2 CPUs (online: $(getconf _NPROCESSORS_ONLN))"
    command -v taskset >/dev/null || die "--cache-cpu needs taskset (util-linux)"
    PIN=(taskset -c "$last")
    taskset -p -c "0-$((last - 1))" $$ >/dev/null
    for f in "$CONVOY_LOCAL_DIR"/pg/*/postmaster.pid "$CONVOY_LOCAL_DIR"/pids/*.pid; do
        p="$(head -1 "$f")"
        mapfile -t kids < <(pgrep -P "$p" || true)
        pids+=("$p" "${kids[@]}")
    done
    for p in "${pids[@]}"; do taskset -a -p -c "0-$((last - 1))" "$p" >/dev/null; done
    session="$(q "SELECT string_agg(pid::text, ' ') FROM pg_stat_activity WHERE application_name = 'convoy-agent cache'")"
    [[ $session =~ ^[0-9]+$ ]] || die "--cache-cpu: the cache agent's session in pg_stat_activity: '$session' (one pid expected)"
    pids=("$(cat "$CONVOY_LOCAL_DIR/pids/redis.pid")" "$(cat "$CONVOY_LOCAL_DIR/pids/agent-cache.pid")")
    [[ $SESSION_CPU == cache ]] && pids+=("$session")
    for p in "${pids[@]}"; do taskset -a -p -c "$last" "$p" >/dev/null; done
    log "--cache-cpu: $(cpu_split "$last" "$session")"
}

invalidation_rep() {
    local order="$1" r1 r2 ratio ratio_c onoff onoff_w verdict
    ((CACHE_CPU)) && pin_cache
    log "rep $REP: creating profiles and profiles_b ($ROWS rows each)"
    inv_tables
    inv_baseline
    if [[ $order == offon ]]; then
        inv_off
        inv_on
    else
        inv_on
        inv_off
    fi
    inv_drain
    r1="$(awk -v n="$INV_REMOVED" -v t="$INV_FIRST_MS" 'BEGIN { printf "%.0f", n / (t / 1000) }')"
    r2="$(awk -v n="$INV_REMOVED" -v t="$INV_CONF_MS" 'BEGIN { printf "%.0f", n / (t / 1000) }')"
    ratio="$(awk -v a="$r1" -v b="$BASE_RATE" 'BEGIN { printf "%.3f", a / b }')"
    ratio_c="$(awk -v a="$r2" -v b="$BASE_RATE" 'BEGIN { printf "%.3f", a / b }')"
    onoff="$(awk -v a="$ON_FILL" -v b="$OFF_FILL" 'BEGIN { printf "%.3f", b / a }')"
    onoff_w="$(awk -v a="$ON_WIN" -v b="$OFF_WIN" 'BEGIN { printf "%.3f", b / a }')"
    verdict=ok
    DR_RATIO="$(awk -v a="$DR_RATE" -v b="$BASE_RATE" 'BEGIN { printf "%.3f", a / b }')"
    BATCH_RATIO="$(awk -v a="$INV_BATCH_RATE" -v b="$BASE_RATE" 'BEGIN { printf "%.3f", a / b }')"
    WORK_RATIO="$(awk -v a="$INV_WORK_RATE" -v b="$BASE_RATE" 'BEGIN { printf "%.3f", a / b }')"
    WORK_RATIO_L="$(awk -v a="$INV_WORK_RATE" -v b="$LOADED_RATE" 'BEGIN { printf "%.3f", a / b }')"
    if [[ $ON_LEFT != 0 || $DR_LEFT != 0 ]]; then
        verdict="FAILED: $ON_LEFT + $DR_LEFT keys left"
        INV_FAILED=$((INV_FAILED + 1))
    elif [[ $INV_REMOVED != "$ROWS" ]]; then
        verdict="note: removed $INV_REMOVED, not $ROWS"
    fi
    # rep order base_ms base_rate first_ms rate1 conf_ms rate2 ratio ratio_c fill_on fill_off onoff win_on win_off onoff_w left dr_ms dr_rate dr_ratio batch_rate batch_ratio work_rate work_ratio loaded_rate work_ratio_loaded loaded_inside
    echo "$REP $([[ $order == offon ]] && echo off,on || echo on,off) $BASE_MS $BASE_RATE $INV_FIRST_MS $r1 $INV_CONF_MS $r2 $ratio $ratio_c $ON_FILL $OFF_FILL $onoff $ON_WIN $OFF_WIN $onoff_w $ON_LEFT $DR_MS $DR_RATE $DR_RATIO $INV_BATCH_RATE $BATCH_RATIO $INV_WORK_RATE $WORK_RATIO $LOADED_RATE $WORK_RATIO_L $LOADED_INSIDE" >>"$WORK/inv.txt"
    {
        echo "rep $REP (order: $([[ $order == offon ]] && echo "(3) off, then (2) on" || echo "(2) on, then (3) off"); load avg (1 min) at (1) $LOAD_BASE, (2) $LOAD_ON, (3) $LOAD_OFF):"
        echo "  (1) baseline: redis-cli --pipe, $(((ROWS + 999) / 1000)) UNLINK of <= 1000 keys: $BASE_MS ms, $BASE_RATE keys/s; '$BASE_REPLY'; Redis cmdstat_unlink: $BASE_CALLS calls, $BASE_USEC us in the server ($(awk -v u="$BASE_USEC" -v n="$ROWS" 'BEGIN { printf "%.2f", u / n }') us/key); keys left $BASE_LEFT"
        echo "  (2) outbox: $INV_ROWS key rows, $INV_KEYS keys, $INV_REMOVED removed ($INV_STEPS); $INV_OTHER bump/purge rows; attempts $INV_ATTEMPTS"
        echo "      first created_at -> last first_at:     $INV_FIRST_MS ms = $r1 keys/s, ratio to (1) $ratio"
        echo "      first created_at -> last confirmed_at: $INV_CONF_MS ms = $r2 keys/s, ratio to (1) $ratio_c (includes the 500 ms second pass)"
        echo "      the first pass's rate is $(awk -v a="$r1" -v n="$ON_ROWS" -v t="$ON_FILL" 'BEGIN { printf "%.2f", a / (n / (t / 1000)) }') of the fill pass's own rate (rows/s below): the agent cannot unlink keys before their batch commits"
        echo "      per row first_at - created_at: p50 $INV_LAG50 ms, max $INV_LAGMAX ms; last first_at - last created_at $INV_TAIL ms"
        echo "      per batch (keys / sum of first_at - created_at): $INV_BATCH_RATE keys/s, ratio to (1) $BATCH_RATIO"
        echo "      the agent's work (keys / sum over its $INV_CLAIMS claims of last first_at - claimed_at, $INV_WORK_MS ms): $INV_WORK_RATE keys/s, ratio to (1) $WORK_RATIO, to (1b) $WORK_RATIO_L"
        echo "      Redis cmdstat_unlink during (2): $ON_CALLS calls, $ON_USEC us in the server (both passes); user:1..user:$ROWS left at the end: $ON_LEFT"
        echo "      fill pass: $ON_FILL ms ($(awk -v n="$ON_ROWS" -v t="$ON_FILL" 'BEGIN { printf "%.0f", n / (t / 1000) }') rows/s), $ON_ROWS rows in $ON_BATCHES batches (last size $ON_BSIZE); backfill window (first backfill step start -> last end) $ON_WIN ms"
        echo "  (1b) the same redis-cli --pipe during (3)'s fill pass: $LOADED_MS ms, $LOADED_RATE keys/s ($(awk -v a="$LOADED_RATE" -v b="$BASE_RATE" 'BEGIN { printf "%.2f", a / b }') of (1)); ended inside the fill pass: $LOADED_INSIDE; keys left $LOADED_LEFT"
        echo "  (3) fill pass: $OFF_FILL ms ($(awk -v n="$OFF_ROWS" -v t="$OFF_FILL" 'BEGIN { printf "%.0f", n / (t / 1000) }') rows/s), $OFF_ROWS rows in $OFF_BATCHES batches (last size $OFF_BSIZE); backfill window $OFF_WIN ms"
        echo "  (4) backlog: $DR_ROWS outbox rows, $DR_REMOVED keys removed $DR_MS ms after SIGCONT = $DR_RATE keys/s, ratio to (1) $DR_RATIO; keys left $DR_LEFT"
        echo "  fill pass throughput on/off $onoff (backfill window $onoff_w); $verdict"
    } >>"$WORK/inv_detail.txt"
    q "SET client_min_messages = warning; DROP TABLE IF EXISTS profiles, profiles_b" >/dev/null
    rc FLUSHALL >/dev/null
}

median_col() {
    awk -v c="$1" '{ print $c }' "$WORK/inv.txt" | sort -g |
        awk -v f="${2:-%.2f}" '{ v[NR] = $1 } END { printf f, NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
range_col() { awk -v c="$1" '{ print $c }' "$WORK/inv.txt" | sort -g | awk -v f="${2:-%.2f}" 'NR == 1 { a = $1 } { b = $1 } END { printf f "-" f, a, b }'; }

case_invalidation() {
    local order=onoff other=offon r m_ratio m_ratio_c m_onoff m_base m_r1 m_drain m_batch m_work m_work_l verdict dverdict bverdict wverdict lverdict t_start=$SECONDS
    ((REVERSE)) && order=offon other=onoff
    INV_FAILED=0

    log "bringing up the fleet in $CONVOY_LOCAL_DIR"
    cluster_up
    [[ -f $CONVOY_LOCAL_DIR/agents/cache.ini ]] || die "the local cluster has no cache agent (CONVOY_LOCAL_CACHE=0, or this convoy-agent lacks role = cache)"
    RPORT="${CONVOY_REDIS_URL##*:}"
    if [[ -n $SECOND_PASS ]]; then
        printf 'second_pass = %s\n' "$SECOND_PASS" >>"$CONVOY_LOCAL_DIR/agents/cache.ini"
        kill -HUP "$(cat "$CONVOY_LOCAL_DIR/pids/agent-cache.pid")"
        wait_for 10 grep -q "reload: second_pass" "$CONVOY_LOCAL_DIR/logs/agent-cache.log" ||
            die "the cache agent did not reload second_pass = $SECOND_PASS: $(tail -2 "$CONVOY_LOCAL_DIR/logs/agent-cache.log")"
    fi
    log "primary port $PGPORT, Redis port $RPORT"
    # the baseline's input: UNLINK commands of up to 1000 keys each, in RESP
    nice -n 5 awk -v n="$ROWS" 'BEGIN { ORS = ""
        for (s = 1; s <= n; s += 1000) { e = s + 999; if (e > n) e = n
            printf "*%d\r\n$6\r\nUNLINK\r\n", e - s + 2
            for (i = s; i <= e; i++) { k = "user:" i; printf "$%d\r\n%s\r\n", length(k), k } } }' >"$WORK/unlink.resp"
    : >"$WORK/inv.txt"
    : >"$WORK/inv_detail.txt"
    for r in $(seq 1 "$REPEAT"); do
        REP=$r
        if ((r % 2)); then invalidation_rep "$order"; else invalidation_rep "$other"; fi
    done
    m_ratio="$(median_col 9)"
    m_ratio_c="$(median_col 10)"
    m_onoff="$(median_col 13)"
    m_base="$(median_col 4 %.0f)"
    m_r1="$(median_col 6 %.0f)"
    m_drain="$(median_col 20)"
    m_batch="$(median_col 22)"
    m_work="$(median_col 24)"
    m_work_l="$(median_col 26)"

    echo
    echo "=== fleet_bench --case invalidation: Redis invalidation during a backfill ==="
    echo "command:    $PROG --case invalidation --rows $ROWS --repeat $REPEAT$( ((REVERSE)) && echo ' --reverse')$( ((CACHE_CPU)) && echo ' --cache-cpu')$([[ $SESSION_CPU == db ]] && echo ' --session-cpu db')${SECOND_PASS:+ --second-pass $SECOND_PASS}"
    ((CACHE_CPU)) && echo "cpus:       $(cpu_split "${PIN[2]}")"
    machine_info
    echo "redis:      $(redis-server --version | cut -d' ' -f1-3) on 127.0.0.1:$RPORT (save \"\", appendonly no); redis-cli $(redis-cli --version | cut -d' ' -f2)"
    echo "cluster:    primary + replicas r1, r2, an agent each, a cache agent (role = cache, second_pass ${SECOND_PASS:-500ms}, heartbeat 100 ms), 1 coordinator"
    echo "tables:     profiles, profiles_b (id bigint PRIMARY KEY, val int), $ROWS rows each, created afresh for each repetition; autovacuum off"
    echo "keys:       user:1..user:$ROWS, SET to 'cached' (one EVAL) before (1) and before (2)"
    echo "(1)         redis-cli --pipe < $(((ROWS + 999) / 1000)) UNLINK commands of <= 1000 keys (RESP, written beforehand), timed from its start to its exit"
    echo "(2)         convoy apply --cluster --detach of: $(tr '\n' ' ' <"$WORK/inv_on_1.sql")"
    echo "(3)         convoy apply --cluster --detach of: $(tr '\n' ' ' <"$WORK/inv_off_1.sql")"
    echo "(1b)        the same redis-cli --pipe, started once (3)'s fill pass has committed a batch (the keys SET again before (3))"
    echo "(4)         the same keys put in the outbox (rows of <= 30,000) while the cache agent is stopped (SIGSTOP), timed from SIGCONT to the last first_at"
    echo
    cat "$WORK/inv_detail.txt"
    echo
    echo "ms; rate = keys/s; (2) first = first created_at -> last first_at, conf = -> last confirmed_at; fill = the fill pass's duration_ms (convoy.steps)"
    printf '  %3s %6s %8s %9s %8s %9s %8s %9s %6s %6s %8s %8s %6s %5s\n' rep order "(1) ms" "(1) rate" "first" "rate" "conf" "rate" ratio "r.conf" "fill on" "fill off" on/off left
    awk '{ printf "  %3s %6s %8s %9s %8s %9s %8s %9s %6.2f %6.2f %8s %8s %6.2f %5s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $17 }' "$WORK/inv.txt"
    echo
    echo "the whole case took $((SECONDS - t_start)) s"
    verdict="met"
    awk -v r="$m_ratio" 'BEGIN { exit !(r >= 0.8) }' || verdict="NOT met: bounded by the backfill's own rate"
    dverdict="met"
    awk -v r="$m_drain" 'BEGIN { exit !(r >= 0.8) }' || dverdict="NOT met"
    bverdict="met"
    awk -v r="$m_batch" 'BEGIN { exit !(r >= 0.8) }' || bverdict="NOT met"
    wverdict="met"
    awk -v r="$m_work" 'BEGIN { exit !(r >= 0.8) }' || wverdict="NOT met"
    lverdict="met"
    awk -v r="$m_work_l" 'BEGIN { exit !(r >= 0.8) }' || lverdict="NOT met"
    grep -q ' no$' "$WORK/inv.txt" && lverdict="$lverdict; (1b) outlasted the fill pass in $(grep -c ' no$' "$WORK/inv.txt") repetition(s)"
    ((INV_FAILED == 0)) || verdict="$verdict; $INV_FAILED repetition(s) FAILED: keys left in Redis"
    echo "SUMMARY invalidation: convoy $m_r1 keys/s vs baseline $m_base keys/s (medians): ratio median $m_ratio (range $(range_col 9)) (goal >= 0.8: $verdict), to the last confirmation $m_ratio_c; per batch, from its keys written to their first UNLINK pass: ratio median $m_batch (range $(range_col 22)) (goal >= 0.8: $bverdict); the agent's working rate during the backfill (its claims, claimed_at to first_at): ratio median $m_work (range $(range_col 24)) (goal >= 0.8: $wverdict), to (1b) the pipe during a backfill $m_work_l (range $(range_col 26)) (goal >= 0.8: $lverdict); the agent's own rate on a backlog: ratio median $m_drain (range $(range_col 20)) (goal >= 0.8: $dverdict); fill pass throughput with/without invalidation median $m_onoff (range $(range_col 13)); keys left $(awk '{ s += $17 } END { print s + 0 }' "$WORK/inv.txt") over $REPEAT repetition(s) of $ROWS keys"
    ((INV_FAILED == 0)) || exit 1
}

"case_$CASE"
