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
#                   (convoy keeps c in sync for other writers with a BEFORE INSERT OR UPDATE trigger)
#     (t) optional (--trigger-baseline): the single UPDATE again, on t_trigger, with convoy's
#         own sync trigger installed and switched off for the session exactly as convoy does
# each while pgbench runs single-row UPDATEs of random rows of the same table (unless
# --no-workload), and prints rows/s, the ratio (b)/(a), the latency of the concurrent
# updates that started inside each operation's window, and the machine and settings.
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
        (convoy installs a BEFORE INSERT OR UPDATE sync trigger for the backfill)

each while pgbench runs random single-row UPDATEs of v on the same table.

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
if [[ $CASE == volatile ]]; then
    COL_TYPE=uuid
    EXPR="gen_random_uuid()"
    # migration_sql NAME TABLE
    migration_sql() {
        printf -- '-- convoy:name %s\nALTER TABLE %s ADD COLUMN c uuid DEFAULT gen_random_uuid();\n' "$1" "$2"
    }
    CHECK_DESC="rows with c IS NULL must be 0 and count(DISTINCT c) must equal the row count"
else
    COL_TYPE=bigint
    EXPR="v * 2"
    migration_sql() {
        printf -- '-- convoy:name %s\n-- convoy:backfill c = v * 2\nALTER TABLE %s ADD COLUMN c bigint;\n' "$1" "$2"
    }
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
autovacs() { q "SELECT coalesce(sum(autovacuum_count), 0) FROM pg_stat_user_tables"; }

# Results, by phase tag (a, t, b).
declare -A R_MS R_PRE R_LAT R_CKPT R_AV R_SIZE R_NOTE

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
    fresh_start "$table"
    ckpt0=$(bgw)
    av0=$(autovacs)
    start_workload "$table" "$tag"
    times=$("${PSQL[@]}" -At <<SQL
SET statement_timeout = '${OP_TIMEOUT_S}s';
SELECT extract(epoch FROM clock_timestamp());
BEGIN;
$set_local
UPDATE $table SET c = $EXPR;
COMMIT;
SELECT extract(epoch FROM clock_timestamp());
SQL
    )
    t0=$(sed -n 1p <<<"$times")
    t1=$(sed -n 2p <<<"$times")
    stop_workload "$tag"
    R_CKPT[$tag]=$(($(bgw) - ckpt0))
    R_AV[$tag]=$(($(autovacs) - av0))
    R_MS[$tag]=$(ms_between "$t0" "$t1")
    R_SIZE[$tag]=$(q "SELECT pg_size_pretty(pg_total_relation_size('$table'))")
    R_NOTE[$tag]="rows left NULL: $(q "SELECT count(*) FROM $table WHERE c IS NULL")"
    if [[ $WORKLOAD -eq 1 ]]; then
        R_PRE[$tag]=$(lat_stats "$tag" "$WL_START" "$t0")
        R_LAT[$tag]=$(lat_stats "$tag" "$t0" "$t1")
    fi
    log "($tag) done in ${R_MS[$tag]} ms; VACUUM $table so that its autovacuum cannot run in a later phase"
    q "VACUUM $table" >/dev/null
}

# ---------------------------------------------------------------- (b) convoy
phase_convoy() {
    local tag=b table=t_convoy ckpt0 av0 locked=0 status s seen_end b_start b_end rc=0
    log "($tag) convoy apply on $table"
    migration_sql "$MIGRATION" "$table" >"$WORK/$MIGRATION.sql"
    fresh_start "$table"
    ckpt0=$(bgw)
    av0=$(autovacs)
    mon_open
    start_workload "$table" "$tag"

    b_start=$(now)
    timeout "$OP_TIMEOUT_S" "$CONVOY" apply "$WORK/$MIGRATION.sql" --db "$CONNINFO" --json \
        >"$WORK/convoy.json" 2>"$WORK/convoy.err" &
    CONVOY_PID=$!

    # Wait for the sync trigger (steps 1-2 done), then hold ACCESS SHARE on the table so
    # that convoy's final DROP TRIGGER (ACCESS EXCLUSIVE) waits until the workload has
    # stopped and the check has run: workload updates after the drop would leave
    # c != v * 2 for reasons that have nothing to do with the backfill. This session
    # holds no snapshot between statements (READ COMMITTED), so it does not hold back
    # vacuum or pruning. Meanwhile, sample convoy.backfill every ~100 ms.
    : >"$WORK/convoy_samples.csv"
    # The volatile case has no sync trigger, and the workload never writes c: the check
    # can simply run after convoy has finished.
    if [[ $CASE == volatile ]]; then locked=4; fi
    while kill -0 "$CONVOY_PID" 2>/dev/null; do
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
        else
            mon "SELECT coalesce((SELECT status FROM convoy.steps WHERE migration = '$MIGRATION'
                       AND kind = 'backfill'), 'none') || ',' || coalesce((SELECT rows_done || ',' ||
                       batches || ',' || coalesce(batch_size, 0) FROM convoy.backfill
                       WHERE migration = '$MIGRATION'), ',,') || ',' ||
                       extract(epoch FROM clock_timestamp());"
            s=$MON_OUT
            echo "$s" >>"$WORK/convoy_samples.csv"
            status=${s%%,*}
            case $status in
            done | failed | blocked) break ;;
            esac
        fi
        sleep 0.1
    done
    seen_end=$(now)
    stop_workload "$tag"
    B_HOLD_MS=0
    CHECK_DETAIL=
    if [[ $locked -eq 1 ]]; then
        mon "SELECT count(*) FROM $table WHERE c IS DISTINCT FROM v * 2; COMMIT;"
        MISMATCH=$MON_OUT
        B_HOLD_MS=$(ms_between "$seen_end" "$(now)")
    fi
    wait "$CONVOY_PID" || rc=$?
    CONVOY_PID=
    b_end=$(now)
    mon_close
    if [[ $rc -ne 0 ]]; then
        cat "$WORK/convoy.err" "$WORK/convoy.json" >&2
        die "convoy apply failed (exit $rc)"
    fi
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
    2)
        CHECK_HOW="WARNING: convoy finished before the check could hold its trigger; workload updates after the DROP TRIGGER may show as mismatches"
        MISMATCH=$(q "SELECT count(*) FROM $table WHERE c IS DISTINCT FROM v * 2")
        ;;
    *)
        CHECK_HOW="checked after convoy apply, no concurrent writers"
        MISMATCH=$(q "SELECT count(*) FROM $table WHERE c IS DISTINCT FROM v * 2")
        ;;
    esac
    R_CKPT[$tag]=$(($(bgw) - ckpt0))
    R_AV[$tag]=$(($(autovacs) - av0))
    B_WALL_MS=$(ms_between "$b_start" "$b_end")
    R_MS[$tag]=$(jq -r '[.steps[] | select(.kind == "backfill")][0].duration_ms' "$WORK/convoy.json")
    B_ROWS_UPDATED=$(jq -r '[.steps[] | select(.kind == "backfill")][0].rows' "$WORK/convoy.json")
    B_PLAN=$(jq -r '.steps[] | "\(.n). \(.kind): \(.summary)"' "$WORK/convoy.json")
    B_STEPS=$(jq -r '[.steps[] | "\(.n) \(.kind) \(.duration_ms) ms"] | join("; ")' "$WORK/convoy.json")
    read -r B_T0 B_T1 B_BATCHES B_LASTSIZE < <(q "SELECT extract(epoch FROM s.started_at),
        extract(epoch FROM s.finished_at), b.batches, b.batch_size
        FROM convoy.steps s JOIN convoy.backfill b ON b.migration = s.migration AND b.step = s.n
        WHERE s.migration = '$MIGRATION' AND s.kind = 'backfill'" | tr '|' ' ')
    R_SIZE[$tag]=$(q "SELECT pg_size_pretty(pg_total_relation_size('$table'))")
    R_NOTE[$tag]="rows updated: $B_ROWS_UPDATED"
    if [[ $CASE == computed && $B_ROWS_UPDATED =~ ^[0-9]+$ && $B_ROWS_UPDATED -lt $ROWS ]]; then
        R_NOTE[$tag]+=" (the other $((ROWS - B_ROWS_UPDATED)) got c from the sync trigger when the workload updated them first)"
    elif [[ $B_ROWS_UPDATED != "$ROWS" ]]; then
        R_NOTE[$tag]+=" (UNEXPECTED: expected $ROWS)"
    fi
    TRIGGERS_LEFT=$(q "SELECT count(*) FROM pg_trigger WHERE tgrelid = '$table'::regclass AND NOT tgisinternal")
    if [[ $WORKLOAD -eq 1 ]]; then
        R_PRE[$tag]=$(lat_stats "$tag" "$WL_START" "$B_T0")
        R_LAT[$tag]=$(lat_stats "$tag" "$B_T0" "$B_T1")
    fi
    # Batch sizes over time, from the ~100 ms samples of convoy.backfill.
    BATCH_PROFILE=$(awk -F, -v t0="$B_T0" '
        $1 == "running" && $4 != "" && $4 != prev { printf "%s%.1fs:%s", sep, $5 - t0, $4; sep = " "; prev = $4 }
        ' "$WORK/convoy_samples.csv")
    # Ramp-up: until the batch size first reaches 80% of its median over the run; then
    # the steady rate between that sample and the last one.
    RAMP=$(awk -F, -v t0="$B_T0" '
        $1 == "running" && $4 != "" && $4 > 0 { n++; t[n] = $5; r[n] = $2; b[n] = $4 }
        END {
            if (n < 3) { print "n/a (too few samples)"; exit }
            for (i = 1; i <= n; i++) s[i] = b[i]
            for (i = 2; i <= n; i++) { x = s[i]; for (j = i - 1; j >= 1 && s[j] > x; j--) s[j + 1] = s[j]; s[j + 1] = x }
            med = s[int((n + 1) / 2)]
            for (k = 1; k < n && b[k] < 0.8 * med; k++) ;
            if (k >= n || t[n] <= t[k]) { print "n/a"; exit }
            printf "batch size reached %d (80%% of the median %d) after %.2f s and %d rows; from there to the last sample: %.0f rows/s", b[k], med, t[k] - t0, r[k], (r[n] - r[k]) / (t[n] - t[k])
        }' "$WORK/convoy_samples.csv")
    log "($tag) backfill step ${R_MS[$tag]} ms; VACUUM $table so that its autovacuum cannot run in a later phase"
    q "VACUUM $table" >/dev/null
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
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b / a}'; }
fld() { awk -v i="$2" '{print $i}' <<<"$1"; }
declare -A RATE
for ph in "${PHASES[@]}"; do RATE[$ph]=$(rate "${R_MS[$ph]}"); done
RATIO=$(ratio "${RATE[a]}" "${RATE[b]}")
RATIO_OK=$(awk -v r="$RATIO" 'BEGIN {print (r >= 0.9) ? "MET" : "NOT MET"}')
ORDER=$(IFS=,; echo "${PHASES[*]}")
CMD="bench/backfill_bench.sh --case $CASE --rows $ROWS --clients $CLIENTS"
if [[ $WORKLOAD -eq 0 ]]; then CMD+=" --no-workload"; fi
if [[ $TRIGGER_BASELINE -eq 1 ]]; then CMD+=" --trigger-baseline"; fi
if [[ $REVERSE -eq 1 ]]; then CMD+=" --reverse"; fi

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
echo "  check of (b):      $CHECK_DESC"
machine_info
print_settings
echo "data: ${#TABLES[@]} tables x $ROWS rows (id bigint PK, v bigint, pad text of 50 bytes), $TABLE_SIZE each with its PK index before the backfill"
if [[ $WORKLOAD -eq 1 ]]; then
    echo "workload: pgbench -n -c $CLIENTS -j $THREADS -l, random single-row 'UPDATE t SET v = v + 1 WHERE id = :id' on the table being backfilled; ${WARMUP_S}s warm-up before each operation"
else
    echo "workload: none (--no-workload)"
fi
echo
echo "(a) single UPDATE: $(update_sql t_update)   (the ALTER runs before the timed window)"
echo "    time:            ${R_MS[a]} ms -> ${RATE[a]} rows/s   (${R_NOTE[a]}; checkpoints during: ${R_CKPT[a]}; autovacuums during: ${R_AV[a]}; size after: ${R_SIZE[a]})"
if [[ $TRIGGER_BASELINE -eq 1 ]]; then
    echo "(t) single UPDATE: $(update_sql t_trigger)   with convoy's sync trigger installed and SET LOCAL convoy.backfill = 'on'"
    echo "    time:            ${R_MS[t]} ms -> ${RATE[t]} rows/s   (${R_NOTE[t]}; checkpoints during: ${R_CKPT[t]}; autovacuums during: ${R_AV[t]}; size after: ${R_SIZE[t]})"
fi
echo "(b) convoy apply (backfill step)"
echo "    backfill step:   ${R_MS[b]} ms -> ${RATE[b]} rows/s   (${R_NOTE[b]}; checkpoints during: ${R_CKPT[b]}; autovacuums during: ${R_AV[b]}; size after: ${R_SIZE[b]})"
NB=$((B_BATCHES > 0 ? B_BATCHES : 1))
B_MS=${R_MS[b]}
echo "    batches:         $B_BATCHES, mean $((ROWS / NB)) rows and $((B_MS / NB)) ms per batch; last batch size $B_LASTSIZE"
echo "    batch size over time (seconds since the step started:rows): ${BATCH_PROFILE:-n/a}"
echo "    ramp-up:         $RAMP"
if [[ $CASE == computed ]]; then
    echo "    convoy apply:    $B_WALL_MS ms wall time for all steps (includes ${B_HOLD_MS} ms during which the bench held back the final DROP TRIGGER for its check)"
else
    echo "    convoy apply:    $B_WALL_MS ms wall time for all steps"
fi
echo "    steps:           $B_STEPS; sync triggers left afterwards: $TRIGGERS_LEFT"
if [[ $CASE == volatile ]]; then
    echo "    correctness:     $CHECK_DETAIL -> $MISMATCH bad rows (expect 0; $CHECK_HOW)"
else
    echo "    correctness:     $MISMATCH rows with c IS DISTINCT FROM v * 2 (expect 0; $CHECK_HOW)"
fi
echo
echo "summary, case $CASE: (a) $(update_sql t_update)"
echo "                      (b) convoy apply of:"
migration_sql "$MIGRATION" t_convoy | sed 's/^/                          /'
echo "ratio (b)/(a) rows/s: $RATIO   ((a) ${RATE[a]} rows/s, (b) ${RATE[b]} rows/s; target >= 0.90: $RATIO_OK)"
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
        printf '    %-34s %7s %8s %8s %9s %9s %7s %7s\n' "$1" "${f[@]}"
    }
    statrow window "txns p50_ms p99_ms p99.9_ms max_ms tps stall%"
    for ph in "${PHASES[@]}"; do
        case $ph in
        a) label="the UPDATE" ;;
        t) label="the UPDATE with trigger" ;;
        b) label="convoy's backfill step" ;;
        esac
        statrow "($ph) before, warm-up" "${R_PRE[$ph]}"
        statrow "($ph) during $label" "${R_LAT[$ph]}"
    done
    echo "p99 during convoy's backfill: $(fld "${R_LAT[b]}" 3) ms   (target <= 250 ms: $P99_OK; p99 during the single UPDATE (a): $(fld "${R_LAT[a]}" 3) ms)"
fi
echo
echo "markdown row (case | rows | clients | (a) rows/s | (b) rows/s | (b)/(a) | (a) p50/p99/p99.9/max ms | (b) p50/p99/p99.9/max ms | stall% (a)/(b) | bad rows):"
if [[ $WORKLOAD -eq 1 ]]; then
    lat4() { echo "$(fld "$1" 2) / $(fld "$1" 3) / $(fld "$1" 4) / $(fld "$1" 5)"; }
    echo "| $CASE | $ROWS | $CLIENTS | ${RATE[a]} | ${RATE[b]} | $RATIO | $(lat4 "${R_LAT[a]}") | $(lat4 "${R_LAT[b]}") | $(fld "${R_LAT[a]}" 7) / $(fld "${R_LAT[b]}" 7) | $MISMATCH |"
else
    echo "| $CASE | $ROWS | none | ${RATE[a]} | ${RATE[b]} | $RATIO | - | - | - | $MISMATCH |"
fi
