#!/usr/bin/env bash
# backfill_bench.sh: convoy's batched backfill against one plain UPDATE, on a throwaway cluster.
#
# Measures, on identical tables of N rows, one of two cases (--case):
#   volatile (default): a column filled with a volatile default
#     (a) baseline: ALTER TABLE t_update ADD COLUMN c uuid; UPDATE t_update SET c = gen_random_uuid();
#     (b) convoy:   convoy apply of "ALTER TABLE t_convoy ADD COLUMN c uuid DEFAULT gen_random_uuid();"
#                   (convoy adds the column nullable, sets the DEFAULT, backfills in batches; no trigger)
#   computed: a column computed from another column
#     (a) baseline: ALTER TABLE t_update ADD COLUMN c bigint; UPDATE t_update SET c = v * 2;
#     (b) convoy:   convoy apply of "-- convoy:backfill c = v * 2 / ADD COLUMN c bigint" on t_convoy
#                   (two passes: a fill pass with no trigger, then convoy installs a BEFORE
#                   INSERT OR UPDATE sync trigger and runs a read-mostly catch-up pass that
#                   rewrites the rows the workload changed before the trigger existed)
#     (t) optional (--trigger-baseline): the single UPDATE again, on t_trigger, with convoy's
#         own sync trigger installed and switched off for the session (what a backfill under
#         the trigger, convoy's previous design, pays)
# each while pgbench runs single-row UPDATEs of random rows of the same table (unless
# --no-workload), and prints rows/s, the ratio (b)/(a) of the rates (= (a)'s time / (b)'s
# time: above 1 means convoy was faster), the latency of the concurrent updates that started
# inside each operation's window, and the machine and settings.
# (b)'s time is the whole cost of filling the column correctly: the wall window from the
# start of convoy's first backfill step to the end of its last one (convoy.steps started_at
# and finished_at), which covers both passes and the trigger install between them.
# See docs/benchmarks.md.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/.." && pwd)

CASE=volatile
ROWS=1000000
CLIENTS=4
KEEP=0
WORKLOAD=1
TRIGGER_BASELINE=0
REVERSE=0
BATCH_TARGET=
WORKERS=
WARMUP_S=3
STALL_MS=20
CONVOY=${CONVOY:-$REPO_DIR/build/coordinator/convoy}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
BASE_DIR=${TMPDIR:-/tmp}
MIGRATION=bench_backfill
# Hard bounds so that a hang can never keep the script running (seconds).
OP_TIMEOUT_S=900
PGBENCH_MAX_S=1800

usage() {
    cat <<EOF
usage: bench/backfill_bench.sh [options]

Compares convoy's batched backfill with a single UPDATE of the whole table, on a
throwaway PostgreSQL cluster it starts (and removes) itself, in one of two cases:

  --case volatile (default): a new column filled with a volatile default
    (a) ALTER TABLE t_update ADD COLUMN c uuid; UPDATE t_update SET c = gen_random_uuid();
    (b) convoy apply of: ALTER TABLE t_convoy ADD COLUMN c uuid DEFAULT gen_random_uuid();
        (add the column nullable, SET DEFAULT, batched backfill; no sync trigger)
  --case computed: a new column computed from another column
    (a) ALTER TABLE t_update ADD COLUMN c bigint; UPDATE t_update SET c = v * 2;
    (b) convoy apply of: -- convoy:backfill c = v * 2
                         ALTER TABLE t_convoy ADD COLUMN c bigint;
        (a fill pass with no trigger; then a BEFORE INSERT OR UPDATE sync trigger and
        a read-mostly catch-up pass over the rows changed before the trigger existed)

each while pgbench runs random single-row UPDATEs of v on the same table.

(b)'s time runs from the start of convoy's first backfill step to the end of its last
one (both passes and the trigger install between them, for the computed case). The
ratio printed is (b)'s rows/s over (a)'s, i.e. (a)'s time / (b)'s time.

options:
  --case CASE          volatile (default) or computed, see above
  --rows N             rows in each table (default $ROWS)
  --clients C          pgbench clients running single-row updates during each
                       operation (default $CLIENTS)
  --no-workload        no concurrent pgbench: pure throughput of (a) and (b)
  --trigger-baseline   computed case only: also run (t), the single UPDATE on a third
                       table that carries convoy's sync trigger (taken from
                       'convoy plan'), switched off for the session as convoy does;
                       separates the trigger's cost
  --reverse            run the phases in the opposite order (b first)
  --batch-target MS    add "-- convoy:batch-target MSms" to convoy's migration (10..60000;
                       default: none, convoy's default of 200 ms); the report then checks
                       the application's max latency during convoy's backfill against
                       2 x MS
  --workers N          add "-- convoy:backfill-workers N" to convoy's migration (1..8;
                       default: none, one session): N sessions fill disjoint ranges
  --keep               keep the temporary cluster and logs (path printed at the end)
  --convoy PATH        convoy binary (default \$CONVOY or build/coordinator/convoy)
  --pgbin DIR          PostgreSQL bin directory (default \$PGBIN or
                       /usr/lib/postgresql/15/bin)
  --dir DIR            where to create the temporary directory (default \$TMPDIR or
                       /tmp); it must be on a real disk, not tmpfs, for fsync to
                       mean anything
  --warmup S           seconds of workload before each operation (default $WARMUP_S)
  -h, --help           this help

The cluster runs with fsync=on and the default synchronous_commit, shared_buffers
256MB, max_wal_size 4GB and checkpoint_timeout 30min; all non-default settings are
printed. Each phase starts from a checkpoint, a restart and a pg_prewarm of its own
table, so that no phase inherits another's buffer state. Run as root (postgres then runs as the postgres user) or as a user that
may run initdb. Needs initdb, pg_ctl, psql and pgbench in --pgbin, and jq, awk, sort.
EOF
}

die() {
    echo "backfill_bench: $*" >&2
    exit 1
}

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

while [[ $# -gt 0 ]]; do
    case $1 in
    --case) [[ $# -ge 2 ]] || die "--case needs a value"; CASE=$2; shift 2 ;;
    --case=*) CASE=${1#*=}; shift ;;
    --rows) [[ $# -ge 2 ]] || die "--rows needs a value"; ROWS=$2; shift 2 ;;
    --rows=*) ROWS=${1#*=}; shift ;;
    --clients) [[ $# -ge 2 ]] || die "--clients needs a value"; CLIENTS=$2; shift 2 ;;
    --clients=*) CLIENTS=${1#*=}; shift ;;
    --no-workload) WORKLOAD=0; shift ;;
    --trigger-baseline) TRIGGER_BASELINE=1; shift ;;
    --reverse) REVERSE=1; shift ;;
    --batch-target) [[ $# -ge 2 ]] || die "--batch-target needs a value"; BATCH_TARGET=$2; shift 2 ;;
    --batch-target=*) BATCH_TARGET=${1#*=}; shift ;;
    --workers) [[ $# -ge 2 ]] || die "--workers needs a value"; WORKERS=$2; shift 2 ;;
    --workers=*) WORKERS=${1#*=}; shift ;;
    --keep) KEEP=1; shift ;;
    --convoy) [[ $# -ge 2 ]] || die "--convoy needs a value"; CONVOY=$2; shift 2 ;;
    --convoy=*) CONVOY=${1#*=}; shift ;;
    --pgbin) [[ $# -ge 2 ]] || die "--pgbin needs a value"; PGBIN=$2; shift 2 ;;
    --pgbin=*) PGBIN=${1#*=}; shift ;;
    --dir) [[ $# -ge 2 ]] || die "--dir needs a value"; BASE_DIR=$2; shift 2 ;;
    --dir=*) BASE_DIR=${1#*=}; shift ;;
    --warmup) [[ $# -ge 2 ]] || die "--warmup needs a value"; WARMUP_S=$2; shift 2 ;;
    --warmup=*) WARMUP_S=${1#*=}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
    esac
done

case $CASE in
volatile | computed) ;;
*) die "--case must be 'volatile' or 'computed', not '$CASE'" ;;
esac
if [[ $TRIGGER_BASELINE -eq 1 && $CASE != computed ]]; then
    die "--trigger-baseline applies only to --case computed (the volatile case has no sync trigger)"
fi
if ! is_uint "$ROWS" || [[ $ROWS -lt 1 ]]; then die "--rows must be a positive integer"; fi
if ! is_uint "$CLIENTS" || [[ $CLIENTS -lt 1 ]]; then die "--clients must be a positive integer"; fi
is_uint "$WARMUP_S" || die "--warmup must be a whole number of seconds"
if [[ -n $WORKERS ]] && { ! is_uint "$WORKERS" || [[ $WORKERS -lt 1 || $WORKERS -gt 8 ]]; }; then
    die "--workers must be a whole number from 1 to 8"
fi
if [[ -n $BATCH_TARGET ]] && { ! is_uint "$BATCH_TARGET" || [[ $BATCH_TARGET -lt 10 || $BATCH_TARGET -gt 60000 ]]; }; then
    die "--batch-target must be a whole number of milliseconds from 10 to 60000"
fi
[[ -x $CONVOY ]] || die "convoy binary not found at $CONVOY (build it, or pass --convoy)"
CONVOY=$(cd "$(dirname "$CONVOY")" && pwd)/$(basename "$CONVOY")
for b in initdb pg_ctl psql pgbench; do
    [[ -x $PGBIN/$b ]] || die "$PGBIN/$b not found (pass --pgbin)"
done
for b in jq awk sort mktemp stdbuf timeout; do
    command -v "$b" >/dev/null || die "'$b' is required"
done
THREADS=$((CLIENTS < 2 ? CLIENTS : 2))

# The case: column type, the baseline's expression, and convoy's migration (for table T).
# migration_sql NAME TABLE
migration_sql() {
    printf -- '-- convoy:name %s\n' "$1"
    if [[ -n $BATCH_TARGET ]]; then printf -- '-- convoy:batch-target %sms\n' "$BATCH_TARGET"; fi
    if [[ -n $WORKERS ]]; then printf -- '-- convoy:backfill-workers %s\n' "$WORKERS"; fi
    if [[ $CASE == volatile ]]; then
        printf 'ALTER TABLE %s ADD COLUMN c uuid DEFAULT gen_random_uuid();\n' "$2"
    else
        printf -- '-- convoy:backfill c = v * 2\nALTER TABLE %s ADD COLUMN c bigint;\n' "$2"
    fi
}
if [[ $CASE == volatile ]]; then
    COL_TYPE=uuid
    EXPR="gen_random_uuid()"
    CHECK_DESC="rows with c IS NULL must be 0 and count(DISTINCT c) must equal the row count"
else
    COL_TYPE=bigint
    EXPR="v * 2"
    CHECK_DESC="rows with c IS DISTINCT FROM v * 2 must be 0"
fi
# update_sql TABLE: the baseline, as the report prints it (the ALTER runs before the timed
# window, the UPDATE is timed).
update_sql() { echo "ALTER TABLE $1 ADD COLUMN c $COL_TYPE; UPDATE $1 SET c = $EXPR;"; }

# Run a PostgreSQL server binary as the postgres user when we are root.
as_pg() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
now() { date +%s.%N; }
ms_between() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.0f", (b - a) * 1000}'; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

WORK=$(mktemp -d "${BASE_DIR%/}/convoy-bench.XXXXXX")
if [[ $(id -u) -eq 0 ]]; then chown postgres: "$WORK"; fi
chmod 755 "$WORK"
DATA=$WORK/data
PORT=
STARTED=0
PGBENCH_PID=
WL_START=0
CONVOY_PID=
MON_OPEN=0

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    if [[ -n $PGBENCH_PID ]] && kill -0 "$PGBENCH_PID" 2>/dev/null; then
        kill -TERM "$PGBENCH_PID" 2>/dev/null
        wait "$PGBENCH_PID" 2>/dev/null
    fi
    if [[ -n $CONVOY_PID ]] && kill -0 "$CONVOY_PID" 2>/dev/null; then
        kill -TERM "$CONVOY_PID" 2>/dev/null
        wait "$CONVOY_PID" 2>/dev/null
    fi
    mon_close
    if [[ $STARTED -eq 1 && $KEEP -eq 0 ]]; then
        as_pg "$PGBIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1
    fi
    if [[ $KEEP -eq 1 ]]; then
        if [[ $STARTED -eq 1 ]]; then
            log "kept: cluster still running in $WORK (port $PORT); stop and remove it with:"
            log "  runuser -u postgres -- $PGBIN/pg_ctl -D $DATA stop && rm -rf $WORK"
        else
            log "kept: $WORK"
        fi
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

LOAD_START=$(loadavg)

# ---------------------------------------------------------------- cluster
log "initdb in $WORK"
as_pg "$PGBIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$WORK/initdb.log" 2>&1 ||
    { cat "$WORK/initdb.log" >&2; die "initdb failed"; }

# Settings this benchmark sets on purpose (initdb's own choices are printed too).
BENCH_SETTINGS=(
    "fsync = on"
    "synchronous_commit = on"
    "full_page_writes = on"
    "shared_buffers = '256MB'"
    "max_wal_size = '4GB'"
    "checkpoint_timeout = '30min'"
    "log_checkpoints = on"
    "log_autovacuum_min_duration = 0"
    "log_lock_waits = on"
    "listen_addresses = '127.0.0.1'"
    "unix_socket_directories = '$WORK'"
)
{
    echo "# backfill_bench.sh"
    printf '%s\n' "${BENCH_SETTINGS[@]}"
} >>"$DATA/postgresql.conf"

for _ in 1 2 3 4 5 6 7 8; do
    PORT=$((20000 + RANDOM % 30000))
    port_free "$PORT" || continue
    if as_pg "$PGBIN/pg_ctl" -D "$DATA" -o "-p $PORT" -l "$WORK/postgres.log" -w -t 60 start >/dev/null 2>&1; then
        STARTED=1
        break
    fi
done
[[ $STARTED -eq 1 ]] || { tail -20 "$WORK/postgres.log" >&2 || true; die "could not start postgres"; }
log "postgres started on port $PORT"

CONNINFO="host=$WORK port=$PORT dbname=bench user=postgres"
PSQL=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -U postgres)
"${PSQL[@]}" -d postgres -c "CREATE DATABASE bench" >/dev/null
PSQL+=(-d bench)

q() { "${PSQL[@]}" -At -c "$1"; }

# ---------------------------------------------------------------- monitor session
# One long-lived psql session (a coprocess) polls convoy's progress without forking a
# psql per poll, and holds the lock that keeps the sync trigger in place until the
# correctness check has run (see phase_convoy).
mon_open() {
    coproc MON { exec stdbuf -oL "${PSQL[@]}" -At -v ON_ERROR_STOP=0 2>>"$WORK/monitor.err"; }
    MON_OPEN=1
}
# mon SQL: runs SQL (one or more statements) in the monitor session; its rows go to
# MON_OUT (not printed: a command substitution would run this in a subshell).
MON_OUT=
mon() {
    local line
    MON_OUT=
    printf '%s\n\\echo __sync__\n' "$1" >&"${MON[1]}"
    while IFS= read -r -t 120 line <&"${MON[0]}"; do
        if [[ $line == __sync__ ]]; then
            return 0
        fi
        MON_OUT+=${MON_OUT:+$'\n'}$line
    done
    die "monitor session stopped answering"
}
mon_close() {
    if [[ $MON_OPEN -eq 1 ]]; then
        MON_OPEN=0
        { printf 'ROLLBACK;\n\\q\n' >&"${MON[1]}"; } 2>/dev/null || true
        wait "$MON_PID" 2>/dev/null || true
    fi
}

# ---------------------------------------------------------------- machine
machine_info() {
    local fs dev blk rota
    echo "machine:"
    echo "  nproc:        $(nproc)"
    echo "  cpu:          $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "  memory:       $(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    fs=$(df -PT "$WORK" | awk 'NR == 2 {print $2}')
    dev=$(df -PT "$WORK" | awk 'NR == 2 {print $1}')
    blk=$(basename "$dev")
    rota=
    if [[ -r /sys/class/block/$blk/queue/rotational ]]; then
        rota=$(cat "/sys/class/block/$blk/queue/rotational")
    elif [[ -e /sys/class/block/$blk/partition ]]; then
        rota=$(cat "/sys/class/block/$blk/../queue/rotational" 2>/dev/null || true)
    fi
    case $rota in
    0) rota="non-rotational" ;;
    1) rota="reports rotational=1" ;;
    *) rota="rotational flag unknown" ;;
    esac
    if [[ $blk == vd* ]]; then rota="$rota, virtio virtual disk"; fi
    echo "  disk:         $dev ($fs), $rota"
    echo "  kernel:       $(uname -sr)"
    echo "  postgresql:   $(q "SELECT version()")"
    echo "  load average: $LOAD_START at start, $(loadavg) at end (other work on the machine adds noise)"
}

print_settings() {
    echo "non-default PostgreSQL settings (from initdb and this script):"
    q "SELECT '  ' || rpad(name, 30) || current_setting(name) FROM pg_settings
       WHERE source NOT IN ('default', 'override', 'client', 'session')
         AND name NOT IN ('port', 'unix_socket_directories')
       ORDER BY name"
    echo "  (port $PORT, unix socket in the temporary directory)"
}

# ---------------------------------------------------------------- data
TABLES=(t_update t_convoy)
if [[ $TRIGGER_BASELINE -eq 1 ]]; then TABLES+=(t_trigger); fi
log "loading $ROWS rows into each of ${TABLES[*]}"
{
    for t in "${TABLES[@]}"; do
        echo "CREATE TABLE $t (id bigint PRIMARY KEY, v bigint NOT NULL, pad text);"
    done
    echo "INSERT INTO t_update SELECT g, (g * 7919) % 1000003, substr(repeat(md5(g::text), 2), 1, 50)
          FROM generate_series(1::bigint, $ROWS) AS g;"
    for t in "${TABLES[@]:1}"; do
        echo "INSERT INTO $t SELECT * FROM t_update ORDER BY id;"
    done
    for t in "${TABLES[@]}"; do
        echo "VACUUM ANALYZE $t;"
    done
    echo "CREATE EXTENSION pg_prewarm;"
    echo "CHECKPOINT;"
} | "${PSQL[@]}" >/dev/null
TABLE_SIZE=$(q "SELECT pg_size_pretty(pg_total_relation_size('t_update'))")

for t in "${TABLES[@]}"; do
    printf '\\set id random(1, %d)\nUPDATE %s SET v = v + 1 WHERE id = :id;\n' "$ROWS" "$t" >"$WORK/workload_$t.sql"
done

start_workload() { # table tag
    if [[ $WORKLOAD -eq 0 ]]; then
        return 0
    fi
    WL_START=$(now)
    (cd "$WORK" && exec "$PGBIN/pgbench" -n -h "$WORK" -p "$PORT" -U postgres -c "$CLIENTS" -j "$THREADS" \
        -T "$PGBENCH_MAX_S" -l --log-prefix="$WORK/pgbench_$2" -f "$WORK/workload_$1.sql" bench) \
        >"$WORK/pgbench_$2.out" 2>&1 &
    PGBENCH_PID=$!
    sleep "$WARMUP_S"
    kill -0 "$PGBENCH_PID" 2>/dev/null || { cat "$WORK/pgbench_$2.out" >&2; die "pgbench died"; }
}

# pgbench exits cleanly on SIGALRM (as when -T expires): in-flight transactions finish
# and the per-transaction logs are flushed.
stop_workload() { # tag
    if [[ -z $PGBENCH_PID ]]; then
        return 0
    fi
    kill -ALRM "$PGBENCH_PID"
    wait "$PGBENCH_PID" || die "pgbench failed: $(tail -5 "$WORK/pgbench_$1.out")"
    PGBENCH_PID=
}

# lat_stats TAG FROM TO: the workload's transactions that started in [FROM, TO] (epoch s),
# as "n p50_ms p99_ms p99.9_ms max_ms tps stall%": tps counts transactions completed in
# the window; stall% is the share of the clients' time in the window spent inside
# transactions slower than STALL_MS (that is, mostly waiting for row locks).
lat_stats() {
    local tag=$1 from=$2 to=$3
    cat "$WORK"/pgbench_"$tag".* 2>/dev/null | awk -v f="$from" -v t="$to" -v lim="$STALL_MS" '
        NF >= 6 && $3 ~ /^[0-9]+$/ {
            endt = $5 + $6 / 1e6; st = endt - $3 / 1e6
            if (st >= f && st <= t) {
                print $3
                if ($3 > lim * 1000) stall += (endt < t ? endt : t) - st
            }
            if (endt >= f && endt <= t) done++
        }
        END { printf "done %d %.6f\n", done, stall }' | sort -n | awk -v f="$from" -v t="$to" -v c="$CLIENTS" '
        /^done / { done = $2; stall = $3; next }
        { v[++n] = $1 }
        function pct(p,   i) { i = int(p * n); if (i < p * n) i++; if (i < 1) i = 1; return v[i] / 1000 }
        END {
            w = t - f
            tps = w > 0 ? done / w : 0
            st = w > 0 ? 100 * stall / (c * w) : 0
            if (n == 0) { printf "0 - - - - %.0f %.0f\n", tps, st; exit }
            printf "%d %.1f %.1f %.1f %.1f %.0f %.0f\n", n, pct(0.50), pct(0.99), pct(0.999), v[n] / 1000, tps, st
        }'
}

bgw() { q "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter"; }

# fresh_start TABLE: every phase starts from the same state: a checkpoint, a restart
# (empty shared_buffers; the OS page cache stays warm), then the phase's table and its
# primary key index loaded into shared_buffers. Without this the phase that runs first
# is measurably faster than later ones (see docs/benchmarks.md).
fresh_start() {
    q "CHECKPOINT" >/dev/null
    as_pg "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -t 120 restart -o "-p $PORT" -l "$WORK/postgres.log" >/dev/null 2>&1 ||
        die "restarting postgres failed"
    q "SELECT pg_prewarm('$1'), pg_prewarm('${1}_pkey')" >/dev/null
    q "CHECKPOINT" >/dev/null
}
# autovacuum and autoanalyze runs finished so far, all tables
autovacs() { q "SELECT coalesce(sum(autovacuum_count + autoanalyze_count), 0) FROM pg_stat_user_tables"; }
# wal_between LSN0 LSN1: WAL written between two LSNs, all sessions, e.g. "405 MB".
wal_between() { q "SELECT pg_size_pretty(pg_wal_lsn_diff('$2', '$1'))"; }

# Results, by phase tag (a, t, b).
declare -A R_MS R_PRE R_LAT R_CKPT R_AV R_SIZE R_NOTE R_LOAD R_WAL

# ---------------------------------------------------------------- (a) and (t): one UPDATE
# phase_update TAG TABLE TRIGGER: with TRIGGER=1 the table first gets convoy's sync
# trigger, from `convoy plan`, and the UPDATE runs with convoy.backfill = 'on' as
# convoy's batches do.
phase_update() {
    local tag=$1 table=$2 trigger=$3 times t0 t1 ckpt0 av0 set_local=""
    log "($tag) one UPDATE of all rows of $table$([[ $trigger -eq 1 ]] && echo ", with convoy's sync trigger")"
    if [[ $trigger -eq 1 ]]; then
        migration_sql bench_trigger_baseline "$table" >"$WORK/trigger_baseline.sql"
        "$CONVOY" plan "$WORK/trigger_baseline.sql" --db "$CONNINFO" --json >"$WORK/trigger_baseline_plan.json" ||
            die "convoy plan failed for the trigger baseline"
        q "CREATE SCHEMA IF NOT EXISTS convoy" >/dev/null
        q "ALTER TABLE $table ADD COLUMN c $COL_TYPE" >/dev/null
        jq -r '[.steps[] | select(.sql != null and (.sql | test("CREATE TRIGGER")))][0].sql // empty' \
            "$WORK/trigger_baseline_plan.json" >"$WORK/trigger_baseline_ddl.sql"
        [[ -s $WORK/trigger_baseline_ddl.sql ]] || die "no CREATE TRIGGER step in convoy's plan"
        "${PSQL[@]}" -f "$WORK/trigger_baseline_ddl.sql" >/dev/null
        set_local="SET LOCAL convoy.backfill = 'on';"
    else
        q "ALTER TABLE $table ADD COLUMN c $COL_TYPE" >/dev/null
    fi
    R_LOAD[$tag]=$(loadavg)
    fresh_start "$table"
    ckpt0=$(bgw)
    av0=$(autovacs)
    start_workload "$table" "$tag"
    times=$("${PSQL[@]}" -At -F ' ' <<SQL
SET statement_timeout = '${OP_TIMEOUT_S}s';
SELECT extract(epoch FROM clock_timestamp()), pg_current_wal_lsn();
BEGIN;
$set_local
UPDATE $table SET c = $EXPR;
COMMIT;
SELECT extract(epoch FROM clock_timestamp()), pg_current_wal_lsn();
SQL
    )
    read -r t0 lsn0 <<<"$(sed -n 1p <<<"$times")"
    read -r t1 lsn1 <<<"$(sed -n 2p <<<"$times")"
    stop_workload "$tag"
    R_WAL[$tag]=$(wal_between "$lsn0" "$lsn1")
    R_CKPT[$tag]=$(($(bgw) - ckpt0))
    R_AV[$tag]=$(($(autovacs) - av0))
    R_MS[$tag]=$(ms_between "$t0" "$t1")
    R_SIZE[$tag]=$(q "SELECT pg_size_pretty(pg_total_relation_size('$table'))")
    R_NOTE[$tag]="rows left NULL: $(q "SELECT count(*) FROM $table WHERE c IS NULL")"
    if [[ $WORKLOAD -eq 1 ]]; then
        R_PRE[$tag]=$(lat_stats "$tag" "$WL_START" "$t0")
        R_LAT[$tag]=$(lat_stats "$tag" "$t0" "$t1")
    fi
    log "($tag) done in ${R_MS[$tag]} ms; VACUUM ANALYZE $table so that its autovacuum cannot run in a later phase"
    q "VACUUM ANALYZE $table" >/dev/null
}

# ---------------------------------------------------------------- (b) convoy
# convoy's own session logs the duration of each of its statements (options in its
# conninfo; nobody else's), so that the report can split each backfill step into the time
# in its batch statements and the rest.
CONVOY_CONNINFO="$CONNINFO options='-c log_min_duration_statement=0'"

# The monitor's sample of convoy's progress, one CSV line:
#   status,step,rows_done,rows_updated,batches,batch_size,epoch,wal_lsn,autovacuum_workers
# for the first backfill step that is not done yet (status 'done' once all are); the last
# field counts the autovacuum workers processing t_convoy at that moment.
sample_sql() {
    cat <<SQL
SELECT coalesce(
    (SELECT s.status || ',' || s.n || ',' || coalesce(b.rows_done::text, '') || ',' ||
            coalesce(b.rows_updated::text, '') || ',' || coalesce(b.batches::text, '') || ',' ||
            coalesce(b.batch_size::text, '')
       FROM convoy.steps s LEFT JOIN convoy.backfill b ON b.migration = s.migration AND b.step = s.n
      WHERE s.migration = '$MIGRATION' AND s.kind = 'backfill' AND s.status <> 'done'
      ORDER BY s.n LIMIT 1),
    CASE WHEN EXISTS (SELECT 1 FROM convoy.steps WHERE migration = '$MIGRATION' AND kind = 'backfill')
         THEN 'done,,,,,' ELSE 'none,,,,,' END)
    || ',' || extract(epoch FROM clock_timestamp()) || ',' || pg_current_wal_lsn() || ',' ||
    (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'
        AND query LIKE '%t_convoy%');
SQL
}

# batch_stmts STEP: convoy's batch statements of that step, from the server log, as
# "n sum_ms p50_ms max_ms" (or "0 0 - -"). A batch statement is the write of the table:
# convoy_bfN_first/_next when a batch was one statement, convoy_bfN_write since a batch is
# BEGIN, the UPDATE, the checkpoint (convoy_bfN_cp, counted with the step's other time), COMMIT.
BATCH_STMT_RE='execute convoy_bf%s_(first|next|write)'
batch_stmt_re() { printf "duration: [0-9.]+ ms  $BATCH_STMT_RE" "$1"; }
batch_stmts() {
    { grep -oE "$(batch_stmt_re "$1")" "$WORK/postgres.log" 2>/dev/null || true; } |
        awk '{print $2}' | sort -n | awk '
        { v[++n] = $1; s += $1 }
        END {
            if (n == 0) { print "0 0 - -"; exit }
            i = int(0.5 * n); if (i < 0.5 * n) i++; if (i < 1) i = 1
            printf "%d %.0f %.1f %.1f\n", n, s, v[i], v[n]
        }'
}

# batch_durs STEP: the durations of that step's batch statements in the order they ran (ms).
batch_durs() {
    { grep -oE "$(batch_stmt_re "$1")" "$WORK/postgres.log" 2>/dev/null || true; } |
        awk '{printf "%s%.0f", sep, $2; sep = " "}'
}

phase_convoy() {
    local tag=b table=t_convoy ckpt0 av0 locked=0 have_schema=0 status s seen_end b_start b_end rc=0
    local lsn0 lsn_end='' n first last summary v_t0 v_t1 v_cov v_nb v_last
    log "($tag) convoy apply on $table"
    migration_sql "$MIGRATION" "$table" >"$WORK/$MIGRATION.sql"
    R_LOAD[$tag]=$(loadavg)
    fresh_start "$table"
    ckpt0=$(bgw)
    av0=$(autovacs)
    mon_open
    start_workload "$table" "$tag"

    lsn0=$(q "SELECT pg_current_wal_lsn()")
    b_start=$(now)
    timeout "$OP_TIMEOUT_S" "$CONVOY" apply "$WORK/$MIGRATION.sql" --db "$CONVOY_CONNINFO" --json \
        >"$WORK/convoy.json" 2>"$WORK/convoy.err" &
    CONVOY_PID=$!

    # Sample convoy's progress every ~100 ms (every backfill step: the fill pass and, in
    # the computed case, the catch-up pass). In the computed case, once the sync trigger
    # exists (convoy installs it after the fill pass), hold ACCESS SHARE on the table so
    # that convoy's final DROP TRIGGER (ACCESS EXCLUSIVE) waits until the workload has
    # stopped and the check has run: workload updates after the drop would leave
    # c != v * 2 for reasons that have nothing to do with the backfill. The lock does not
    # conflict with the catch-up pass's ROW EXCLUSIVE. This session holds no snapshot
    # between statements (READ COMMITTED), so it does not hold back vacuum or pruning.
    : >"$WORK/convoy_samples.csv"
    # The volatile case has no sync trigger, and the workload never writes c: the check
    # can simply run after convoy has finished.
    if [[ $CASE == volatile ]]; then locked=4; fi
    while kill -0 "$CONVOY_PID" 2>/dev/null; do
        if [[ $have_schema -eq 0 ]]; then
            mon "SELECT to_regclass('convoy.steps') IS NOT NULL AND to_regclass('convoy.backfill') IS NOT NULL;"
            if [[ $MON_OUT == t ]]; then have_schema=1; fi
        fi
        if [[ $locked -eq 0 ]]; then
            mon "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.$table'::regclass
                 AND NOT tgisinternal AND tgname LIKE 'convoy%';"
            if [[ $MON_OUT == 1 ]]; then
                if [[ $WORKLOAD -eq 1 ]]; then
                    mon "BEGIN; LOCK TABLE $table IN ACCESS SHARE MODE NOWAIT; SELECT 'locked';"
                    if [[ $MON_OUT == locked ]]; then
                        locked=1
                    else
                        mon "ROLLBACK;"
                        locked=2 # convoy got there first (tiny table): check is not isolated
                    fi
                else
                    locked=3
                fi
            fi
        fi
        if [[ $have_schema -eq 1 ]]; then
            mon "$(sample_sql)"
            s=$MON_OUT
            if [[ $s == *,*,*,*,*,*,*,*,* ]]; then
                echo "$s" >>"$WORK/convoy_samples.csv"
                status=${s%%,*}
                case $status in
                done | failed | blocked | aborted)
                    lsn_end=$(cut -d, -f8 <<<"$s")
                    break
                    ;;
                esac
            fi
        fi
        sleep 0.1
    done
    seen_end=$(now)
    stop_workload "$tag"
    B_HOLD_MS=0
    CHECK_DETAIL=
    MISMATCH=
    if [[ $locked -eq 1 ]]; then
        # An error in the monitor session would have aborted its transaction and released
        # the lock: make sure it still holds it, or say that the check was not isolated.
        mon "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND granted
             AND relation = '$table'::regclass AND mode = 'AccessShareLock';"
        if [[ $MON_OUT == 1 ]]; then
            mon "SELECT count(*) FROM $table WHERE c IS DISTINCT FROM v * 2; COMMIT;"
            MISMATCH=$MON_OUT
            B_HOLD_MS=$(ms_between "$seen_end" "$(now)")
        else
            mon "ROLLBACK;"
            locked=5
        fi
    fi
    wait "$CONVOY_PID" || rc=$?
    CONVOY_PID=
    b_end=$(now)
    mon_close
    # A failure after every planned backfill step is done (e.g. the final DROP TRIGGER could
    # not get its lock) leaves the measured window intact: report it loudly, and go on. A
    # backfill step counts as done if convoy.audit recorded it so, even if an undo after the
    # failure has reset it to pending. Any other failure ends the run, as before.
    CONVOY_FAILED=
    if [[ $rc -ne 0 ]]; then
        local bf_done=0 bf_all=-1
        read -r bf_done bf_all < <(q "SELECT count(*) FILTER (WHERE s.status = 'done' OR EXISTS (
                SELECT 1 FROM convoy.audit a WHERE a.migration = s.migration AND a.step = s.n
                AND a.action = 'backfill' AND a.outcome = 'done')), count(*) FROM convoy.steps s
                WHERE s.migration = '$MIGRATION' AND s.kind = 'backfill'" 2>/dev/null | tr '|' ' ') || true
        if [[ $bf_all -gt 0 && $bf_done -eq $bf_all ]]; then
            CONVOY_FAILED="convoy apply FAILED (exit $rc) after all its backfill steps were done: $(jq -r \
                '"step \(.step): \(.message)" + (if .removed then "; \(.removed)" else "" end)' "$WORK/convoy.json")"
            log "WARNING: $CONVOY_FAILED"
        else
            cat "$WORK/convoy.err" "$WORK/convoy.json" >&2
            die "convoy apply failed (exit $rc)"
        fi
    fi
    if [[ -z $lsn_end ]]; then lsn_end=$(q "SELECT pg_current_wal_lsn()"); fi
    case $locked in
    1) CHECK_HOW="checked with the sync trigger still installed, after the workload stopped" ;;
    4)
        CHECK_HOW="checked after convoy apply; the workload does not write c"
        read -r B_NULLS B_DISTINCT B_COUNT < <(q "SELECT count(*) FILTER (WHERE c IS NULL),
            count(DISTINCT c), count(*) FROM $table" | tr '|' ' ')
        B_DUPS=$((B_COUNT - B_NULLS - B_DISTINCT))
        MISMATCH=$((B_NULLS + B_DUPS))
        CHECK_DETAIL="$B_NULLS rows with c IS NULL, count(DISTINCT c) = $B_DISTINCT of $B_COUNT rows ($B_DUPS duplicates)"
        ;;
    2 | 5)
        if [[ $locked -eq 2 ]]; then
            CHECK_HOW="WARNING: convoy finished before the check could hold its trigger"
        else
            CHECK_HOW="WARNING: the monitor session lost its lock before the check (see monitor.err)"
        fi
        CHECK_HOW+="; workload updates after the DROP TRIGGER may show as mismatches"
        MISMATCH=$(q "SELECT count(*) FROM $table WHERE c IS DISTINCT FROM v * 2")
        ;;
    *)
        CHECK_HOW="checked after convoy apply, no concurrent writers"
        MISMATCH=$(q "SELECT count(*) FROM $table WHERE c IS DISTINCT FROM v * 2")
        ;;
    esac
    is_uint "$MISMATCH" || MISMATCH="CHECK DID NOT RUN"
    R_CKPT[$tag]=$(($(bgw) - ckpt0))
    R_AV[$tag]=$(($(autovacs) - av0))
    R_WAL[$tag]=$(wal_between "$lsn0" "$lsn_end")
    B_WALL_MS=$(ms_between "$b_start" "$b_end")

    # The backfill steps (one, or the fill and catch-up passes), and (b)'s time: the wall
    # window from the first one's start to the last one's end, by the server's clock.
    # (from convoy.steps: the apply report lists only the steps that ran)
    mapfile -t BF_STEPS < <(q "SELECT n FROM convoy.steps WHERE migration = '$MIGRATION' AND kind = 'backfill' ORDER BY n")
    [[ ${#BF_STEPS[@]} -ge 1 ]] || die "no backfill step in convoy's plan"
    first=${BF_STEPS[0]}
    last=${BF_STEPS[${#BF_STEPS[@]} - 1]}
    B_SUM_MS=$(jq -r --argjson a "$first" --argjson z "$last" \
        '[.steps[] | select(.n >= $a and .n <= $z) | .duration_ms // 0] | add' "$WORK/convoy.json")
    B_WINDOW_STEPS=$(jq -r --argjson a "$first" --argjson z "$last" \
        '[.steps[] | select(.n >= $a and .n <= $z) | "\(.n) \(.kind) \(.duration_ms) ms"] | join(" + ")' "$WORK/convoy.json")
    B_PLAN=$(jq -r '.steps[] | "\(.n). \(.kind): \(.summary)"' "$WORK/convoy.json")
    B_STEPS=$(jq -r '[.steps[] | "\(.n) \(.kind) \(.duration_ms) ms"] | join("; ")' "$WORK/convoy.json")

    # Per backfill step: its pass, time, rows, batches, batch statements, latency window.
    # Times come from convoy.steps, or from convoy.audit (append-only) when an undo after a
    # failure has reset the step; batches from convoy.backfill, or from the server log when
    # the undo has removed the step's checkpoint row.
    declare -gA P_LABEL P_MS P_UPD P_COV P_BATCHES P_LAST P_T0 P_T1 P_STMTS P_DURS P_LAT P_PROFILE
    B_BATCHES=0
    B_FILL_ROWS=
    B_CATCHUP_ROWS=0
    for n in "${BF_STEPS[@]}"; do
        summary=$(jq -r --argjson n "$n" '.steps[] | select(.n == $n) | .summary' "$WORK/convoy.json")
        case $summary in
        "catch-up pass"*) P_LABEL[$n]="catch-up pass" ;;
        "second fill pass"*) P_LABEL[$n]="second fill pass" ;;
        *) P_LABEL[$n]="fill pass" ;;
        esac
        P_MS[$n]=$(jq -r --argjson n "$n" '.steps[] | select(.n == $n) | .duration_ms' "$WORK/convoy.json")
        P_UPD[$n]=$(jq -r --argjson n "$n" '.steps[] | select(.n == $n) | .rows' "$WORK/convoy.json")
        read -r v_t0 v_t1 v_cov v_nb v_last < <(q "SELECT
            extract(epoch FROM coalesce(s.started_at, a.at - a.duration_ms * interval '1 ms')),
            extract(epoch FROM coalesce(s.finished_at, a.at)), coalesce(b.rows_done, -1),
            coalesce(b.batches, -1), coalesce(b.batch_size, -1)
            FROM convoy.steps s
            LEFT JOIN convoy.backfill b ON b.migration = s.migration AND b.step = s.n
            LEFT JOIN LATERAL (SELECT at, duration_ms FROM convoy.audit WHERE migration = s.migration
                AND step = s.n AND action = 'backfill' AND outcome = 'done' ORDER BY id DESC LIMIT 1) a ON true
            WHERE s.migration = '$MIGRATION' AND s.n = $n" | tr '|' ' ') ||
            die "no timing for backfill step $n in convoy.steps or convoy.audit"
        P_STMTS[$n]=$(batch_stmts "$n")
        if [[ $v_nb == -1 ]]; then
            v_nb=$(cut -d' ' -f1 <<<"${P_STMTS[$n]}")
            v_cov=$(jq -r --argjson n "$n" '.steps[] | select(.n == $n) | .detail // ""' "$WORK/convoy.json" |
                sed -n 's/^\([0-9]*\) rows covered.*/\1/p')
            v_last="n/a (checkpoint row removed by convoy's undo)"
        fi
        P_T0[$n]=$v_t0
        P_T1[$n]=$v_t1
        P_COV[$n]=$v_cov
        P_BATCHES[$n]=$v_nb
        P_LAST[$n]=$v_last
        P_DURS[$n]=$(batch_durs "$n")
        B_BATCHES=$((B_BATCHES + P_BATCHES[$n]))
        if [[ $n == "$first" ]]; then
            B_FILL_ROWS=${P_UPD[$n]}
        else
            B_CATCHUP_ROWS=$((B_CATCHUP_ROWS + P_UPD[$n]))
        fi
        if [[ $WORKLOAD -eq 1 ]]; then
            P_LAT[$n]=$(lat_stats "$tag" "${P_T0[$n]}" "${P_T1[$n]}")
        fi
        # Batch sizes over time, from the ~100 ms samples of convoy.backfill.
        P_PROFILE[$n]=$(awk -F, -v n="$n" -v t0="${P_T0[$n]}" '
            $1 == "running" && $2 == n && $6 != "" && $6 != prev { printf "%s%.1fs:%s", sep, $7 - t0, $6; sep = " "; prev = $6 }
            ' "$WORK/convoy_samples.csv")
    done
    B_T0=${P_T0[$first]}
    B_T1=${P_T1[$last]}
    R_MS[$tag]=$(ms_between "$B_T0" "$B_T1")
    # Ramp-up of the first pass: until the batch size first reaches 80% of its median over
    # the pass; then the steady rate between that sample and the pass's last one.
    RAMP=$(awk -F, -v n="$first" -v t0="${P_T0[$first]}" '
        $1 == "running" && $2 == n && $6 != "" && $6 > 0 { k++; t[k] = $7; r[k] = $3; b[k] = $6 }
        END {
            m = k
            if (m < 3) { print "n/a (too few samples)"; exit }
            for (i = 1; i <= m; i++) s[i] = b[i]
            for (i = 2; i <= m; i++) { x = s[i]; for (j = i - 1; j >= 1 && s[j] > x; j--) s[j + 1] = s[j]; s[j + 1] = x }
            med = s[int((m + 1) / 2)]
            for (k = 1; k < m && b[k] < 0.8 * med; k++) ;
            if (k >= m || t[m] <= t[k]) { print "n/a"; exit }
            printf "batch size reached %d (80%% of the median %d) after %.2f s and %d rows; from there to the last sample: %.0f rows/s", b[k], med, t[k] - t0, r[k], (r[m] - r[k]) / (t[m] - t[k])
        }' "$WORK/convoy_samples.csv")
    B_AV_SEEN=$(awk -F, -v t0="$B_T0" '$9 > 0 && !seen { printf "; an autovacuum worker on %s was running from %.1f s into the window", "t_convoy", $7 - t0; seen = 1 }' "$WORK/convoy_samples.csv")
    R_SIZE[$tag]=$(q "SELECT pg_size_pretty(pg_total_relation_size('$table'))")
    R_NOTE[$tag]="${P_LABEL[$first]} updated $B_FILL_ROWS rows"
    if [[ $B_FILL_ROWS != "$ROWS" ]]; then R_NOTE[$tag]+=" (UNEXPECTED: expected $ROWS)"; fi
    if [[ ${#BF_STEPS[@]} -gt 1 ]]; then
        R_NOTE[$tag]+=", the later pass rewrote $B_CATCHUP_ROWS rows the workload had changed before the trigger existed"
    fi
    TRIGGERS_LEFT=$(q "SELECT count(*) FROM pg_trigger WHERE tgrelid = '$table'::regclass AND NOT tgisinternal")
    if [[ $WORKLOAD -eq 1 ]]; then
        R_PRE[$tag]=$(lat_stats "$tag" "$WL_START" "$B_T0")
        R_LAT[$tag]=$(lat_stats "$tag" "$B_T0" "$B_T1")
    fi
    log "($tag) backfill steps $first..$last: ${R_MS[$tag]} ms; VACUUM ANALYZE $table so that its autovacuum cannot run in a later phase"
    q "VACUUM ANALYZE $table" >/dev/null
}

PHASES=(a)
if [[ $TRIGGER_BASELINE -eq 1 ]]; then PHASES+=(t); fi
PHASES+=(b)
if [[ $REVERSE -eq 1 ]]; then
    PHASES=(b)
    if [[ $TRIGGER_BASELINE -eq 1 ]]; then PHASES+=(t); fi
    PHASES+=(a)
fi
for ph in "${PHASES[@]}"; do
    case $ph in
    a) phase_update a t_update 0 ;;
    t) phase_update t t_trigger 1 ;;
    b) phase_convoy ;;
    esac
done

# ---------------------------------------------------------------- report
rate() { awk -v n="$ROWS" -v ms="$1" 'BEGIN {printf "%.0f", n * 1000 / ms}'; }
# ratio A B: B / A; called with the rows/s of (a) and (b), it is (a)'s time / (b)'s time.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b / a}'; }
pct_of() { awk -v x="$1" -v t="$2" 'BEGIN {printf "%.0f", (t > 0) ? 100 * x / t : 0}'; }
fld() { awk -v i="$2" '{print $i}' <<<"$1"; }
declare -A RATE
for ph in "${PHASES[@]}"; do RATE[$ph]=$(rate "${R_MS[$ph]}"); done
RATIO=$(ratio "${RATE[a]}" "${RATE[b]}")
RATIO_OK=$(awk -v r="$RATIO" 'BEGIN {print (r >= 0.9) ? "MET" : "NOT MET"}')
ORDER=$(IFS=,; echo "${PHASES[*]}")
CMD="bench/backfill_bench.sh --case $CASE --rows $ROWS --clients $CLIENTS"
if [[ -n $BATCH_TARGET ]]; then CMD+=" --batch-target $BATCH_TARGET"; fi
if [[ -n $WORKERS ]]; then CMD+=" --workers $WORKERS"; fi
if [[ $WORKLOAD -eq 0 ]]; then CMD+=" --no-workload"; fi
if [[ $TRIGGER_BASELINE -eq 1 ]]; then CMD+=" --trigger-baseline"; fi
if [[ $REVERSE -eq 1 ]]; then CMD+=" --reverse"; fi
FIRST_BF=${BF_STEPS[0]}
LAST_BF=${BF_STEPS[${#BF_STEPS[@]} - 1]}
if [[ $FIRST_BF == "$LAST_BF" ]]; then
    B_WHAT="backfill step $FIRST_BF"
else
    B_WHAT="backfill steps $FIRST_BF..$LAST_BF"
fi

echo
echo "=== convoy backfill benchmark, case '$CASE': $(date -u +%Y-%m-%dT%H:%M:%SZ) ==="
echo "command: $CMD   (phase order: $ORDER)"
echo "case $CASE:"
echo "  (a) single UPDATE:  $(update_sql t_update)"
if [[ $TRIGGER_BASELINE -eq 1 ]]; then
    echo "  (t) single UPDATE:  $(update_sql t_trigger)   with convoy's sync trigger, SET LOCAL convoy.backfill = 'on'"
fi
echo "  (b) convoy apply of this migration:"
migration_sql "$MIGRATION" t_convoy | sed 's/^/        /'
echo "      convoy's steps (from the apply report):"
while IFS= read -r line; do echo "        $line"; done <<<"$B_PLAN"
echo "  time of (b):       from the start of convoy's first backfill step to the end of its last one"
echo "                     (convoy.steps started_at .. finished_at): both passes and whatever runs between them"
echo "  check of (b):      $CHECK_DESC"
machine_info
for ph in "${PHASES[@]}"; do echo "  load average at the start of phase ($ph): ${R_LOAD[$ph]}"; done
print_settings
echo "data: ${#TABLES[@]} tables x $ROWS rows (id bigint PK, v bigint, pad text of 50 bytes), $TABLE_SIZE each with its PK index before the backfill"
if [[ $WORKLOAD -eq 1 ]]; then
    echo "workload: pgbench -n -c $CLIENTS -j $THREADS -l, random single-row 'UPDATE t SET v = v + 1 WHERE id = :id' on the table being backfilled; ${WARMUP_S}s warm-up before each operation"
else
    echo "workload: none (--no-workload)"
fi
echo
echo "(a) single UPDATE: $(update_sql t_update)   (the ALTER runs before the timed window)"
echo "    time:            ${R_MS[a]} ms -> ${RATE[a]} rows/s   (${R_NOTE[a]}; checkpoints during: ${R_CKPT[a]}; autovacuum/autoanalyze runs during: ${R_AV[a]}; WAL: ${R_WAL[a]}; size after: ${R_SIZE[a]})"
if [[ $TRIGGER_BASELINE -eq 1 ]]; then
    echo "(t) single UPDATE: $(update_sql t_trigger)   with convoy's sync trigger installed and SET LOCAL convoy.backfill = 'on'"
    echo "    time:            ${R_MS[t]} ms -> ${RATE[t]} rows/s   (${R_NOTE[t]}; checkpoints during: ${R_CKPT[t]}; autovacuum/autoanalyze runs during: ${R_AV[t]}; WAL: ${R_WAL[t]}; size after: ${R_SIZE[t]})"
fi
echo "(b) convoy apply ($B_WHAT)"
echo "    time:            ${R_MS[b]} ms -> ${RATE[b]} rows/s   (wall window of $B_WHAT; the steps' duration_ms in it: $B_WINDOW_STEPS = $B_SUM_MS ms)"
echo "                     (${R_NOTE[b]}; checkpoints during the phase: ${R_CKPT[b]}; autovacuum/autoanalyze runs during the phase: ${R_AV[b]}${B_AV_SEEN}; WAL up to the end of the last backfill, all sessions: ${R_WAL[b]}; size after: ${R_SIZE[b]})"
for n in "${BF_STEPS[@]}"; do
    nb=$((P_BATCHES[$n] > 0 ? P_BATCHES[$n] : 1))
    read -r s_n s_sum s_p50 s_max <<<"${P_STMTS[$n]}"
    echo "    step $n, ${P_LABEL[$n]}: ${P_MS[$n]} ms ($(pct_of "${P_MS[$n]}" "${R_MS[b]}")% of (b)'s time), ${P_UPD[$n]} rows updated of ${P_COV[$n]} covered"
    echo "        batches:     ${P_BATCHES[$n]}, mean $((P_COV[$n] / nb)) rows and $((P_MS[$n] / nb)) ms per batch; last batch size ${P_LAST[$n]}"
    if [[ ${WORKERS:-1} -gt 1 ]]; then  # the sessions' statements overlap: their sum is not wall time
        echo "        batch statements (server log): $s_n, ${s_sum} ms in all over $WORKERS sessions side by side, median $s_p50 ms, max $s_max ms"
    else
        echo "        batch statements (server log): $s_n, ${s_sum} ms in all, median $s_p50 ms, max $s_max ms; the step's other $((P_MS[$n] - s_sum)) ms: convoy's own queries, round trips, state"
    fi
    echo "        batch size over time (seconds since the step started:rows): ${P_PROFILE[$n]:-n/a}"
    echo "        batch statement durations in order (ms): ${P_DURS[$n]:-n/a}"
done
echo "    ramp-up (step $FIRST_BF): $RAMP"
if [[ $CASE == computed ]]; then
    echo "    convoy apply:    $B_WALL_MS ms wall time for all steps (includes ${B_HOLD_MS} ms during which the bench held back the final DROP TRIGGER for its check)"
else
    echo "    convoy apply:    $B_WALL_MS ms wall time for all steps"
fi
echo "    steps:           $B_STEPS; sync triggers left afterwards: $TRIGGERS_LEFT"
if [[ -n $CONVOY_FAILED ]]; then echo "    WARNING:         $CONVOY_FAILED"; fi
if [[ $CASE == volatile ]]; then
    echo "    correctness:     $CHECK_DETAIL -> $MISMATCH bad rows (expect 0; $CHECK_HOW)"
else
    echo "    correctness:     $MISMATCH rows with c IS DISTINCT FROM v * 2 (expect 0; $CHECK_HOW)"
fi
echo
echo "summary, case $CASE: (a) $(update_sql t_update)"
echo "                      (b) convoy apply of:"
migration_sql "$MIGRATION" t_convoy | sed 's/^/                          /'
if [[ -n $CONVOY_FAILED ]]; then echo "WARNING: $CONVOY_FAILED"; fi
echo "ratio (b)/(a) rows/s: $RATIO   (= (a)'s time / (b)'s time: (a) ${R_MS[a]} ms, ${RATE[a]} rows/s; (b) ${R_MS[b]} ms, ${RATE[b]} rows/s; target >= 0.90: $RATIO_OK)"
if [[ ${#BF_STEPS[@]} -gt 1 ]]; then
    echo "                      (the first pass alone: ${P_MS[$FIRST_BF]} ms, ratio $(ratio "${RATE[a]}" "$(rate "${P_MS[$FIRST_BF]}")"); the passes after it and the steps between: $((R_MS[b] - P_MS[$FIRST_BF])) ms, $(pct_of $((R_MS[b] - P_MS[$FIRST_BF])) "${R_MS[b]}")% of (b)'s time)"
fi
if [[ $TRIGGER_BASELINE -eq 1 ]]; then
    echo "ratio (t)/(a) rows/s: $(ratio "${RATE[a]}" "${RATE[t]}")   (what the sync trigger alone costs a single UPDATE)"
    echo "ratio (b)/(t) rows/s: $(ratio "${RATE[t]}" "${RATE[b]}")   (convoy against a single UPDATE carrying the same trigger)"
fi
if [[ $WORKLOAD -eq 1 ]]; then
    P99_OK=$(awk -v p="$(fld "${R_LAT[b]}" 3)" 'BEGIN {print (p != "-" && p <= 250) ? "MET" : "NOT MET"}')
    echo
    echo "concurrent single-row updates: latency of the transactions that started in the window;"
    echo "tps = transactions completed in the window / its length; stall% = share of the clients' time in"
    echo "the window spent in transactions slower than ${STALL_MS} ms (waiting on row locks, mostly)"
    statrow() { # label "n p50 p99 p99.9 max tps stall"
        local -a f
        read -ra f <<<"$2"
        printf '    %-38s %7s %8s %8s %9s %9s %7s %7s\n' "$1" "${f[@]}"
    }
    statrow window "txns p50_ms p99_ms p99.9_ms max_ms tps stall%"
    for ph in "${PHASES[@]}"; do
        case $ph in
        a) label="the UPDATE" ;;
        t) label="the UPDATE with trigger" ;;
        b) label="convoy's $B_WHAT" ;;
        esac
        statrow "($ph) before, warm-up" "${R_PRE[$ph]}"
        statrow "($ph) during $label" "${R_LAT[$ph]}"
        if [[ $ph == b && ${#BF_STEPS[@]} -gt 1 ]]; then
            for n in "${BF_STEPS[@]}"; do statrow "    of which step $n, ${P_LABEL[$n]}" "${P_LAT[$n]}"; done
        fi
    done
    echo "application latency, p99 / max:"
    echo "    during (a), the single UPDATE:   p99 $(fld "${R_LAT[a]}" 3) ms, max $(fld "${R_LAT[a]}" 5) ms"
    if [[ $TRIGGER_BASELINE -eq 1 ]]; then
        echo "    during (t), UPDATE with trigger: p99 $(fld "${R_LAT[t]}" 3) ms, max $(fld "${R_LAT[t]}" 5) ms"
    fi
    echo "    during (b), convoy's backfill:   p99 $(fld "${R_LAT[b]}" 3) ms, max $(fld "${R_LAT[b]}" 5) ms   ($B_WHAT)"
    echo "p99 during convoy's backfill: $(fld "${R_LAT[b]}" 3) ms   (target <= 250 ms: $P99_OK; p99 during the single UPDATE (a): $(fld "${R_LAT[a]}" 3) ms)"
    if [[ -n $BATCH_TARGET ]]; then
        MAX_OK=$(awk -v m="$(fld "${R_LAT[b]}" 5)" -v t="$BATCH_TARGET" 'BEGIN {print (m != "-" && m <= 2 * t) ? "MET" : "NOT MET"}')
        echo "max during convoy's backfill: $(fld "${R_LAT[b]}" 5) ms   (batch target $BATCH_TARGET ms; target <= $((2 * BATCH_TARGET)) ms: $MAX_OK)"
    fi
fi
echo
echo "markdown row (case | rows | batch target | (a) rows/s | (b) rows/s | (b)/(a) | first pass / rest ms | batches | (a) p99 / max ms | (b) p99 / max ms | stall% (a)/(b) | bad rows | load at (a) / (b)):"
BT=${BATCH_TARGET:-default}
SPLIT="${P_MS[$FIRST_BF]} / $((R_MS[b] - P_MS[$FIRST_BF]))"
L1() { cut -d' ' -f1 <<<"$1"; }
if [[ $WORKLOAD -eq 1 ]]; then
    lat2() { echo "$(fld "$1" 3) / $(fld "$1" 5)"; }
    echo "| $CASE | $ROWS | $BT | ${RATE[a]} | ${RATE[b]} | $RATIO | $SPLIT | $B_BATCHES | $(lat2 "${R_LAT[a]}") | $(lat2 "${R_LAT[b]}") | $(fld "${R_LAT[a]}" 7) / $(fld "${R_LAT[b]}" 7) | $MISMATCH${CONVOY_FAILED:+ (convoy apply failed after its backfill steps)} | $(L1 "${R_LOAD[a]}") / $(L1 "${R_LOAD[b]}") |"
else
    echo "| $CASE | $ROWS | $BT | ${RATE[a]} | ${RATE[b]} | $RATIO | $SPLIT | $B_BATCHES | - | - | - | $MISMATCH${CONVOY_FAILED:+ (convoy apply failed after its backfill steps)} | $(L1 "${R_LOAD[a]}") / $(L1 "${R_LOAD[b]}") |"
fi
