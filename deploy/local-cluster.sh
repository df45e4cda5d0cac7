#!/usr/bin/env bash
# local-cluster.sh: a whole convoy fleet on this machine, for development and demos:
# a PostgreSQL 15 primary with two streaming replicas, a Redis, CURVE keys, the cluster and
# agent configs, one convoy-agent per node and the coordinator. Everything lives in one
# project-local directory and listens on 127.0.0.1 only.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROG="deploy/local-cluster.sh"
DIR="${CONVOY_LOCAL_DIR:-$ROOT/.convoy-local}"
TIMEOUT="${CONVOY_LOCAL_TIMEOUT:-60}"
NODES=(primary r1 r2)
REPLICAS=(r1 r2)
# Agents: one per node, plus a cache agent (Redis invalidation) when this build's agent has
# role = cache (CONVOY_LOCAL_CACHE=0 leaves it out).
AGENTS=(primary r1 r2)
MARKER=".convoy-local-cluster" # proves a directory is ours before `down --purge` deletes it

usage() {
  cat <<USAGE
usage: $PROG up [--no-fleet] | down [--purge] | status | env | --help

A local convoy fleet under \${CONVOY_LOCAL_DIR:-<repo>/.convoy-local}, on 127.0.0.1 only:
  PostgreSQL 15 primary "primary" and streaming replicas "r1", "r2" (pg_basebackup -R),
  database app, trust authentication for local and 127.0.0.1 connections only;
  redis-server; CURVE keys (convoy keygen); cluster.ini and agents/NODE.ini;
  one convoy-agent per node and the convoy coordinator.

commands:
  up [--no-fleet]  create what is missing, start what is not running, wait until everything
                   is ready (at most \$CONVOY_LOCAL_TIMEOUT s, default 60). Running it again
                   when everything is up does nothing. --no-fleet (or CONVOY_LOCAL_NO_FLEET=1):
                   only PostgreSQL and Redis (no keys, agents or coordinator).
  down [--purge]   stop the coordinator, the agents, the replicas, the primary and Redis;
                   --purge also deletes the directory (data, keys, logs).
  status           each component: up/down, port, pid; replicas: streaming state and replay
                   lag. Exit 0 when everything the last \`up\` started is up, 3 otherwise.
  env              export lines for the primary and the fleet:
                     eval "\$($PROG env)" && psql -c 'select 1'
                   PGHOST PGPORT PGDATABASE PGUSER, CONVOY_CLUSTER, CONVOY_REPLICAS (one
                   postgresql:// URI per replica, space-separated), CONVOY_REDIS_URL and
                   REDIS_URL, CONVOY_HTTP (the gate API's base URL), CONVOY_TOKEN (its bearer
                   token), CONVOY_LOCAL_DIR.

binaries: \$CONVOY_BIN/{convoy,convoy-agent} when CONVOY_BIN is set, else
  <repo>/build/coordinator/convoy and <repo>/build/agent/convoy-agent, else PATH.
  Build them with: cmake -S . -B build && cmake --build build
ports: chosen free at the first \`up\`, kept in <dir>/ports.env for later runs.
logs:  <dir>/logs/{pg-primary,pg-r1,pg-r2,redis,coordinator,agent-NODE}.log
Run as root (PostgreSQL then runs as the postgres user via runuser) or as any other user
(PostgreSQL then runs as that user).
USAGE
}

say() { printf 'local-cluster: %s\n' "$*"; }
warn() { printf 'local-cluster: warning: %s\n' "$*" >&2; }
die() {
  printf 'local-cluster: error: %s\n' "$*" >&2
  exit 1
}

# The last lines of a log, indented, for error messages.
log_tail() {
  local f="$1"
  if [[ -s "$f" ]]; then
    printf '  --- last lines of %s:\n' "$f" >&2
    tail -n 15 "$f" | sed 's/^/  | /' >&2
  fi
}

# ---------------------------------------------------------------------------- environment

# Inherited PG* variables (PGHOST, PGOPTIONS, PGSSLMODE, ...) must not redirect our own
# psql/pg_basebackup calls, which always say where they connect.
for v in $(compgen -e); do
  [[ "$v" == PG* ]] && unset "$v"
done
export PGCONNECT_TIMEOUT=3

AS_ROOT=0
[[ "$(id -u)" -eq 0 ]] && AS_ROOT=1
RUNUSER=""

# Locates the PostgreSQL server binaries and runuser.
find_pg() {
  local d
  PG_BIN="$(pg_config --bindir 2>/dev/null || true)"
  for d in "$PG_BIN" /usr/lib/postgresql/15/bin; do
    if [[ -n "$d" && -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/postgres" ]]; then
      PG_BIN="$d"
      break
    fi
  done
  for t in initdb pg_ctl postgres pg_basebackup pg_isready psql; do
    [[ -x "$PG_BIN/$t" ]] ||
      die "PostgreSQL tool $t not found in '${PG_BIN:-pg_config --bindir}' (run: bash deploy/install-deps.sh)"
  done
  local ver
  ver="$("$PG_BIN/postgres" --version | sed -n 's/.* \([0-9][0-9]*\)\..*/\1/p')"
  [[ "$ver" == 15 ]] || warn "PostgreSQL in $PG_BIN is version ${ver:-unknown}, not 15"
  if ((AS_ROOT)); then
    id postgres >/dev/null 2>&1 || die "system user 'postgres' is missing (run: bash deploy/install-deps.sh)"
    for d in /usr/sbin/runuser /sbin/runuser /usr/bin/runuser /bin/runuser; do
      [[ -x "$d" ]] && RUNUSER="$d" && break
    done
    [[ -n "$RUNUSER" ]] || die "runuser not found (util-linux); it starts PostgreSQL as postgres"
  fi
}

# Runs a PostgreSQL server tool as the data directory's owner, from / (root's cwd may be
# unreadable for postgres), without the lock fd (a postmaster would hold the lock forever).
as_pg() {
  if ((AS_ROOT)); then
    (cd / && "$RUNUSER" -u postgres -- "$@" 9>&-)
  else
    (cd / && "$@" 9>&-)
  fi
}

# Gives a path to the PostgreSQL owner.
pg_own() {
  ((AS_ROOT)) && chown -R postgres: "$@"
  return 0
}

# One psql query against a local node: unaligned, tuples only, errors fatal to psql.
pg_query() {
  local port="$1" db="$2" sql="$3"
  "$PG_BIN/psql" -X -qAt -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$db" \
    -c "$sql" 2>/dev/null
}

# ------------------------------------------------------------------------------- the dir

check_dir_path() {
  [[ "$DIR" == /* ]] || DIR="$PWD/$DIR"
  # The directory appears unquoted in conninfo strings and INI values.
  [[ "$DIR" =~ ^[A-Za-z0-9_./+@:-]+$ ]] ||
    die "CONVOY_LOCAL_DIR '$DIR' may contain only letters, digits and _ . / + @ : - (it goes into conninfo strings)"
  # A unix socket path is at most 107 bytes: <dir>/socket/.s.PGSQL.NNNNN
  ((${#DIR} + 21 <= 107)) || die "CONVOY_LOCAL_DIR '$DIR' is too long for a unix socket path (at most 86 characters)"
  SOCK="$DIR/socket"
}

# Takes the directory's lock (exclusive: one up/down at a time).
lock_dir() {
  command -v flock >/dev/null 2>&1 || return 0
  exec 9>"$DIR/.lock"
  flock -w 120 9 || die "another $PROG is running on $DIR (lock $DIR/.lock)"
}

make_dirs() {
  if [[ -e "$DIR" && ! -e "$DIR/$MARKER" ]] && [[ -n "$(ls -A "$DIR" 2>/dev/null)" ]]; then
    die "$DIR exists, is not empty and was not made by $PROG; set CONVOY_LOCAL_DIR elsewhere"
  fi
  mkdir -p "$DIR"
  chmod 0755 "$DIR"
  : >"$DIR/$MARKER"
  mkdir -p "$DIR/pg" "$DIR/logs" "$DIR/pids" "$DIR/redis" "$DIR/agents" "$DIR/socket"
  mkdir -p "$DIR/keys"
  chmod 0700 "$DIR/keys"
  pg_own "$DIR/socket"
  chmod 0755 "$DIR/socket"
  if ((AS_ROOT)); then
    "$RUNUSER" -u postgres -- test -x "$DIR/socket" -a -w "$DIR/socket" ||
      die "the postgres user cannot reach $DIR (a parent directory is not searchable); set CONVOY_LOCAL_DIR to a path postgres can traverse"
  fi
}

# ------------------------------------------------------------------------------- ports

declare -A PORT=()
PORT_KEYS=(primary r1 r2 redis coordinator coordinator2 http)
# CONVOY_LOCAL_COORDINATORS=2: a second coordinator (HA: one drives, the other takes over)
N_COORD="${CONVOY_LOCAL_COORDINATORS:-1}"
[[ "$N_COORD" == 1 || "$N_COORD" == 2 ]] || { echo "local-cluster: CONVOY_LOCAL_COORDINATORS must be 1 or 2" >&2; exit 2; }

port_var() { printf '%s_PORT' "${1^^}"; }

load_ports() {
  local line k v
  [[ -f "$DIR/ports.env" ]] || return 0
  while IFS= read -r line; do
    [[ "$line" =~ ^([A-Z0-9]+)_PORT=([0-9]+)$ ]] || continue
    k="${BASH_REMATCH[1],,}"
    v="${BASH_REMATCH[2]}"
    PORT[$k]="$v"
  done <"$DIR/ports.env"
}

# Some TCP socket (IPv4 or IPv6) uses the port: any state, or with "listen" only LISTEN.
# (Servers bind with SO_REUSEADDR, so TIME_WAIT leftovers of our own servers do not matter.)
port_in_use() {
  local hex
  hex="$(printf '%04X' "$1")"
  awk -v p="$hex" -v listen="${2:-}" \
    'FNR > 1 { n = split($2, a, ":"); if (a[n] == p && (listen == "" || $4 == "0A")) found = 1 }
     END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# Below the kernel's ephemeral range (32768+ by default), so an outgoing connection cannot
# hold one of our ports while its server is down.
pick_port() {
  local p k taken
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 12000))
    taken=0
    for k in "${!PORT[@]}"; do [[ "${PORT[$k]}" == "$p" ]] && taken=1; done
    ((taken)) && continue
    port_in_use "$p" && continue
    echo "$p"
    return 0
  done
  die "no free TCP port found in 20000-31999"
}

ensure_ports() {
  local k changed=0
  load_ports
  for k in "${PORT_KEYS[@]}"; do
    if [[ -z "${PORT[$k]:-}" ]]; then
      PORT[$k]="$(pick_port)"
      changed=1
    fi
  done
  if ((changed)); then
    {
      echo "# $PROG: ports chosen at the first 'up'; later runs and 'env' reuse them"
      for k in "${PORT_KEYS[@]}"; do echo "$(port_var "$k")=${PORT[$k]}"; done
    } >"$DIR/ports.env.tmp"
    mv "$DIR/ports.env.tmp" "$DIR/ports.env"
    say "ports: primary ${PORT[primary]}, r1 ${PORT[r1]}, r2 ${PORT[r2]}, redis ${PORT[redis]}, coordinator ${PORT[coordinator]} (saved in $DIR/ports.env)"
  fi
}

require_ports() {
  local k
  load_ports
  for k in "${PORT_KEYS[@]}"; do
    [[ -n "${PORT[$k]:-}" ]] || die "no $DIR/ports.env (or it lacks $(port_var "$k")): run '$PROG up' first"
  done
}

# Refuses to start NAME when something listens on its port (after a kill -9 the port may
# take a moment to be released: wait up to 5 s).
port_must_be_free() {
  local name="$1" port="$2"
  for _ in $(seq 1 25); do
    port_in_use "$port" listen || return 0
    sleep 0.2
  done
  if port_in_use "$port" listen; then
    die "port $port ($(port_var "$name") in $DIR/ports.env) is in use by another process, so $name cannot start; free it, or run '$PROG down --purge' to start over with new ports"
  fi
}

# --------------------------------------------------------------------------- processes

# PID exists and is not a zombie (a killed daemon stays one until init reaps it).
pid_live() {
  local pid="$1" stat
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [[ "${stat:0:1}" != Z && "${stat:0:1}" != X ]]
}

# PID is alive and its command line contains PATTERN (guards against pid reuse).
proc_alive() {
  local pid="$1" pattern="$2"
  pid_live "$pid" || return 1
  local cmdline
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  [[ "$cmdline" == *"$pattern"* ]]
}

pidfile_pid() {
  local f="$DIR/pids/$1.pid"
  if [[ -f "$f" ]]; then head -n 1 "$f"; fi
}

# NAME's pid from its pid file, when that process is still NAME.
managed_pid() {
  local name="$1" pattern="$2" pid
  pid="$(pidfile_pid "$name")"
  if proc_alive "$pid" "$pattern"; then echo "$pid"; fi
}

# Starts a long-running command in its own session (no terminal, immune to the caller's
# Ctrl-C), appending stdout and stderr to LOG; records its pid in <dir>/pids/NAME.pid.
spawn() {
  local name="$1" log="$2"
  shift 2
  printf '=== %s %s: %s\n' "$(date '+%F %T')" "$PROG" "$*" >>"$log"
  setsid "$@" </dev/null >>"$log" 2>&1 9>&- &
  echo "$!" >"$DIR/pids/$name.pid"
}

# SIGTERM, then SIGKILL after 10 s.
stop_pid() {
  local name="$1" pid="$2" pattern="$3"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    proc_alive "$pid" "$pattern" || return 0
    sleep 0.1
  done
  warn "$name (pid $pid) did not stop within 10 s of SIGTERM; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

stop_managed() {
  local name="$1" pattern="$2" pid
  pid="$(managed_pid "$name" "$pattern")"
  if [[ -n "$pid" ]]; then
    stop_pid "$name" "$pid" "$pattern"
    say "stopped $name (pid $pid)"
  fi
  rm -f "$DIR/pids/$name.pid"
}

# ---------------------------------------------------------------------------- PostgreSQL

pg_data() { printf '%s/pg/%s' "$DIR" "$1"; }
pg_log() { printf '%s/logs/pg-%s.log' "$DIR" "$1"; }

# The postmaster of NAME, when it runs: the pid in postmaster.pid, alive, not a zombie, a
# postgres. (pg_ctl status would count a zombie as running.)
pg_pid() {
  local f pid
  f="$(pg_data "$1")/postmaster.pid"
  [[ -f "$f" ]] || return 0
  pid="$(head -n 1 "$f" 2>/dev/null || true)"
  if pid_live "$pid" && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == postgres ]]; then
    echo "$pid"
  fi
}

pg_running() { [[ -n "$(pg_pid "$1")" ]]; }

pg_ready() {
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "${PORT[$1]}" -U postgres -d postgres -t 2 >/dev/null 2>&1
}

# This node's settings, included from postgresql.conf; rewritten for each replica after
# pg_basebackup copied the primary's.
write_pg_conf() {
  local name="$1" d="$2"
  cat >"$d/convoy-local.conf" <<CONF
# $PROG: settings of node $name (rewritten by every 'up' that creates the node)
port = ${PORT[$name]}
listen_addresses = '127.0.0.1'
unix_socket_directories = '$SOCK'
cluster_name = 'convoy-$name'
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = 1GB
hot_standby = on
hot_standby_feedback = off
max_standby_streaming_delay = 30s
# which application statements use a change: convoy verify's usage evidence
shared_preload_libraries = 'pg_stat_statements'
logging_collector = off
log_line_prefix = '%m [%p] %q%a '
CONF
  grep -q "^include_if_exists = 'convoy-local.conf'" "$d/postgresql.conf" ||
    printf "\n# %s\ninclude_if_exists = 'convoy-local.conf'\n" "$PROG" >>"$d/postgresql.conf"
  cat >"$d/pg_hba.conf" <<HBA
# $PROG: trust, for this machine only (unix socket in $SOCK and 127.0.0.1)
# TYPE  DATABASE     USER  ADDRESS       METHOD
local   all          all                 trust
host    all          all   127.0.0.1/32  trust
local   replication  all                 trust
host    replication  all   127.0.0.1/32  trust
HBA
  pg_own "$d"
}

init_primary() {
  local d tmp log
  d="$(pg_data primary)"
  tmp="$d.init"
  log="$(pg_log primary)"
  say "primary: initdb in $d"
  rm -rf "$tmp"
  mkdir -m 0700 "$tmp"
  pg_own "$tmp"
  touch "$log"
  pg_own "$log"
  as_pg "$PG_BIN/initdb" -D "$tmp" -U postgres -A trust -E UTF8 --no-locale >>"$log" 2>&1 ||
    { log_tail "$log"; die "initdb failed (log: $log)"; }
  write_pg_conf primary "$tmp"
  rm -rf "$d"
  mv "$tmp" "$d"
}

# Clones a replica from the running primary; -R writes standby.signal and primary_conninfo
# (which carries application_name=NAME, how the primary's pg_stat_replication names it).
init_replica() {
  local name="$1" d tmp log
  d="$(pg_data "$name")"
  tmp="$d.init"
  log="$(pg_log "$name")"
  say "$name: pg_basebackup -R from the primary into $d"
  rm -rf "$tmp"
  mkdir -m 0700 "$tmp"
  pg_own "$tmp"
  touch "$log"
  pg_own "$log"
  as_pg "$PG_BIN/pg_basebackup" -D "$tmp" -R -X stream -c fast \
    -d "host=127.0.0.1 port=${PORT[primary]} user=postgres application_name=$name" >>"$log" 2>&1 ||
    { log_tail "$log"; die "pg_basebackup for $name failed (log: $log)"; }
  [[ -f "$tmp/standby.signal" ]] || die "pg_basebackup -R wrote no standby.signal in $tmp"
  # -R spells out every libpq default (sslmode, passfile, ...): keep only what matters.
  grep -v '^primary_conninfo' "$tmp/postgresql.auto.conf" >"$tmp/postgresql.auto.conf.new" || true
  printf "primary_conninfo = 'host=127.0.0.1 port=%s user=postgres application_name=%s'\n" \
    "${PORT[primary]}" "$name" >>"$tmp/postgresql.auto.conf.new"
  mv "$tmp/postgresql.auto.conf.new" "$tmp/postgresql.auto.conf"
  write_pg_conf "$name" "$tmp"
  rm -rf "$d"
  mv "$tmp" "$d"
}

pg_start() {
  local name="$1" d log attempt
  d="$(pg_data "$name")"
  log="$(pg_log "$name")"
  port_must_be_free "$name" "${PORT[$name]}"
  touch "$log"
  pg_own "$log"
  for attempt in 1 2 3 4 5; do
    # After a kill -9 the dead postmaster's children may hold its shared memory for a moment:
    # the new postmaster refuses to start until they are gone, so retry.
    if as_pg "$PG_BIN/pg_ctl" -D "$d" -l "$log" -w -t "$TIMEOUT" start >/dev/null 2>&1; then
      say "$name: PostgreSQL started on 127.0.0.1:${PORT[$name]} (pid $(pg_pid "$name"), log $log)"
      return 0
    fi
    pg_running "$name" && return 0
    sleep "$attempt"
  done
  log_tail "$log"
  die "$name: PostgreSQL did not start (log: $log)"
}

pg_stop() {
  local name="$1" d pid
  d="$(pg_data "$name")"
  pg_running "$name" || return 0
  pid="$(pg_pid "$name")"
  if ! as_pg "$PG_BIN/pg_ctl" -D "$d" -m fast -w -t 30 stop >/dev/null 2>&1; then
    warn "$name: fast shutdown did not finish in 30 s; immediate shutdown"
    as_pg "$PG_BIN/pg_ctl" -D "$d" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  fi
  say "stopped $name (PostgreSQL, pid ${pid:-?})"
}

ensure_app_db() {
  local have
  have="$(pg_query "${PORT[primary]}" postgres "SELECT 1 FROM pg_database WHERE datname = 'app'")" ||
    die "primary: cannot query the server on port ${PORT[primary]} (log: $(pg_log primary))"
  if [[ "$have" != 1 ]]; then
    pg_query "${PORT[primary]}" postgres "CREATE DATABASE app" >/dev/null ||
      die "primary: CREATE DATABASE app failed"
    say "primary: created database app"
  fi
  pg_query "${PORT[primary]}" app "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null ||
    say "primary: pg_stat_statements is not available (convoy verify shows no usage evidence)"
}

# One row of the primary's pg_stat_replication for a replica: state|lag bytes|replay_lag.
replication_row() {
  pg_query "${PORT[primary]}" postgres \
    "SELECT state, coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint::text, '?'),
            coalesce(replay_lag::text, 'idle')
       FROM pg_stat_replication WHERE application_name = '$1'
      ORDER BY state = 'streaming' DESC LIMIT 1" || true
}

# --------------------------------------------------------------------------------- Redis

REDIS_PATTERN="redis-server"

redis_ping() {
  local reply=""
  if command -v redis-cli >/dev/null 2>&1; then
    reply="$(timeout 3 redis-cli -h 127.0.0.1 -p "${PORT[redis]}" ping 2>/dev/null || true)"
  else
    # shellcheck disable=SC2016 # $1 is the inner shell's
    reply="$(timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"; printf "PING\r\n" >&3; head -c 5 <&3' _ "${PORT[redis]}" 2>/dev/null || true)"
  fi
  [[ "$reply" == *PONG* ]]
}

redis_start() {
  local bin log conf
  bin="$(command -v redis-server || true)"
  [[ -n "$bin" ]] || die "redis-server not found on PATH (run: bash deploy/install-deps.sh)"
  log="$DIR/logs/redis.log"
  conf="$DIR/redis/redis.conf"
  cat >"$conf" <<CONF
# $PROG: the local Redis (rewritten by every 'up' that starts it)
port ${PORT[redis]}
bind 127.0.0.1
protected-mode yes
dir $DIR/redis
daemonize no
save ""
appendonly no
CONF
  port_must_be_free redis "${PORT[redis]}"
  spawn redis "$log" "$bin" "$conf"
  say "redis: started on 127.0.0.1:${PORT[redis]} (pid $(pidfile_pid redis), log $log)"
}

# --------------------------------------------------------------------------------- fleet

CONVOY=""
AGENT=""

# Finds NAME in $CONVOY_BIN, else in <repo>/build/SUBDIR, else on PATH.
find_convoy_bin() {
  local name="$1" subdir="$2" dir
  dir="${CONVOY_BIN:-$ROOT/build/$subdir}"
  if [[ -x "$dir/$name" ]]; then
    echo "$dir/$name"
  else
    command -v "$name" || true
  fi
}

find_fleet_bins() {
  local missing=()
  CONVOY="$(find_convoy_bin convoy coordinator)"
  AGENT="$(find_convoy_bin convoy-agent agent)"
  [[ -n "$CONVOY" ]] || missing+=("binary convoy (looked in ${CONVOY_BIN:-$ROOT/build/coordinator} and PATH)")
  [[ -n "$AGENT" ]] || missing+=("binary convoy-agent (looked in ${CONVOY_BIN:-$ROOT/build/agent} and PATH)")
  # A build from before the fleet has a convoy without these commands.
  local sub out
  if [[ -n "$CONVOY" ]]; then
    for sub in keygen coordinator; do
      out="$(timeout 5 "$CONVOY" "$sub" --help 2>&1 || true)"
      if [[ "$out" == *"unknown command '$sub'"* ]]; then
        missing+=("command 'convoy $sub' ($CONVOY has no such command: built before the fleet?)")
      fi
    done
  fi
  if ((${#missing[@]})); then
    printf 'local-cluster: error: missing %s\n' "${missing[@]}" >&2
    printf 'local-cluster: build them with: cmake -S . -B build && cmake --build build\n' >&2
    printf 'local-cluster: (or set CONVOY_BIN=DIR; or run "%s up --no-fleet" for PostgreSQL and Redis only)\n' "$PROG" >&2
    exit 1
  fi
}

node_role() { case "$1" in primary | cache) echo "$1" ;; app*) echo app ;; *) echo replica ;; esac; }
# the cache agent works the outbox on the primary
node_conninfo() {
  local n="$1"
  [[ "$n" == cache || "$n" == app* ]] && n=primary
  printf 'host=%s port=%s dbname=app user=postgres' "$SOCK" "${PORT[$n]}"
}
with_cache_agent() {
  [[ "${CONVOY_LOCAL_CACHE:-1}" != 0 ]] && "$AGENT" --help 2>&1 | grep -q "cache" &&
    [[ " ${AGENTS[*]} " != *" cache "* ]] && AGENTS+=(cache)
  # application nodes (role = app, app_version v1) whose error counters are $DIR/NAME.errors:
  # app1, or the names in CONVOY_LOCAL_APPS (each starting with "app")
  local a
  if [[ "${CONVOY_LOCAL_APP:-1}" != 0 ]] && "$AGENT" --help 2>&1 | grep -q "app_version"; then
    for a in ${CONVOY_LOCAL_APPS:-app1}; do
      [[ "$a" == app* ]] || die "CONVOY_LOCAL_APPS: node names must start with 'app', got '$a'"
      [[ " ${AGENTS[*]} " != *" $a "* ]] && AGENTS+=("$a")
    done
  fi
  return 0
}
# the app nodes an earlier 'up' configured (their agent configs exist)
app_nodes_configured() {
  local f
  for f in "$DIR"/agents/app*.ini; do
    [[ -f "$f" ]] && basename "$f" .ini
  done
  return 0
}
ensure_token() {
  if [[ ! -f "$DIR/keys/http.token" ]]; then
    (umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=\n' >"$DIR/keys/http.token")
    say "keys: $DIR/keys/http.token (the gate API's bearer token)"
  fi
}
coordinator_endpoint() { printf 'tcp://127.0.0.1:%s' "${PORT[${1:-coordinator}]}"; }
# every coordinator an agent reports to
coordinator_endpoints() {
  coordinator_endpoint
  ((N_COORD == 2)) && printf ' %s' "$(coordinator_endpoint coordinator2)"
  return 0
}

ensure_keys() {
  local k
  for k in coordinator "${AGENTS[@]}"; do
    if [[ ! -f "$DIR/keys/$k.key" || ! -f "$DIR/keys/$k.pub" ]]; then
      printf '=== %s convoy keygen --out %s\n' "$(date '+%F %T')" "$DIR/keys/$k" >>"$DIR/logs/keygen.log"
      "$CONVOY" keygen --out "$DIR/keys/$k" >>"$DIR/logs/keygen.log" 2>&1 ||
        { log_tail "$DIR/logs/keygen.log"; die "convoy keygen --out $DIR/keys/$k failed (log: $DIR/logs/keygen.log)"; }
      [[ -f "$DIR/keys/$k.key" && -f "$DIR/keys/$k.pub" ]] ||
        die "convoy keygen --out $DIR/keys/$k did not write $k.key and $k.pub"
      chmod 0600 "$DIR/keys/$k.key"
      say "keys: $DIR/keys/$k.key, $k.pub"
    fi
  done
}

# Writes FILE from stdin unless it exists (a hand-edited config is kept; delete it to
# regenerate).
write_config() {
  local file="$1"
  if [[ -f "$file" ]]; then
    cat >/dev/null
    return 0
  fi
  cat >"$file.tmp"
  mv "$file.tmp" "$file"
  say "config: wrote $file"
}

ensure_configs() {
  local n
  {
    cat <<INI
; $PROG: the local cluster (docs/fleet.md). Delete this file and run 'up' to regenerate.
[cluster]
name = local
bind = $(coordinator_endpoint)
key_file = $DIR/keys/coordinator.key
heartbeat = 100ms
max_lag = 1s
; the primary's pg_stat_database: more than 200 rolled-back transactions a second hold a
; backfill (off by default; a deadlock always does)
rollback_rate_limit = 200
http = 127.0.0.1:${PORT[http]}
http_token_file = $DIR/keys/http.token
INI
    for n in "${AGENTS[@]}"; do
      cat <<INI

[node $n]
role = $(node_role "$n")
conninfo = $(node_conninfo "$n")
agent_key = $DIR/keys/$n.pub
INI
    done
  } | write_config "$DIR/cluster.ini"
  for n in "${AGENTS[@]}"; do
    write_config "$DIR/agents/$n.ini" <<INI
; $PROG: the agent of node $n (docs/fleet.md). Delete this file and run 'up' to regenerate.
[agent]
node = $n
role = $(node_role "$n")
conninfo = $(node_conninfo "$n")
coordinators = $(coordinator_endpoints)
coordinator_key = $DIR/keys/coordinator.pub
key_file = $DIR/keys/$n.key
heartbeat = 100ms
$([[ "$n" == cache ]] && printf 'redis = redis://127.0.0.1:%s' "${PORT[redis]}")
$([[ "$n" == app* ]] && printf 'app_version = v1\nerror_counter_file = %s/%s.errors' "$DIR" "$n")
INI
  done
}

coordinator_pattern() { printf 'coordinator --config %s' "$DIR/cluster.ini"; }
coordinator2_pattern() { printf 'coordinator --config %s --bind' "$DIR/cluster.ini"; }
agent_pattern() { printf -- '--config %s' "$DIR/agents/$1.ini"; }

start_coordinator() {
  local log="$DIR/logs/coordinator.log"
  port_must_be_free coordinator "${PORT[coordinator]}"
  spawn coordinator "$log" "$CONVOY" coordinator --config "$DIR/cluster.ini"
  say "coordinator: started, bound to $(coordinator_endpoint) (pid $(pidfile_pid coordinator), log $log)"
}

start_coordinator2() {
  local log="$DIR/logs/coordinator2.log"
  port_must_be_free coordinator2 "${PORT[coordinator2]}"
  spawn coordinator2 "$log" "$CONVOY" coordinator --config "$DIR/cluster.ini" --bind "$(coordinator_endpoint coordinator2)"
  say "coordinator2: started, bound to $(coordinator_endpoint coordinator2) (pid $(pidfile_pid coordinator2), log $log)"
}

start_agent() {
  local n="$1" log="$DIR/logs/agent-$1.log" out
  # This build can check a config without starting: its complaints beat a dead agent.
  if [[ "$(timeout 5 "$AGENT" --help 2>&1 || true)" == *--check-config* ]]; then
    out="$(timeout 10 "$AGENT" --config "$DIR/agents/$n.ini" --check-config 2>&1)" ||
      die "agent-$n: convoy-agent --check-config refuses $DIR/agents/$n.ini:"$'\n'"$out"
  fi
  spawn "agent-$n" "$log" "$AGENT" --config "$DIR/agents/$n.ini"
  say "agent-$n: started (pid $(pidfile_pid "agent-$n"), log $log)"
}

# Whether this convoy has `status --cluster`; readiness then also waits for it (best effort).
convoy_has_cluster_status() {
  local out
  out="$(timeout 5 "$CONVOY" status --help 2>&1 || true)"
  [[ "$out" == *--cluster* ]]
}

# ------------------------------------------------------------------------------------ up

STARTED=()

cmd_up() {
  local no_fleet="$1" n fresh_primary=0
  find_pg
  check_dir_path
  if ((!no_fleet)); then
    find_fleet_bins
    with_cache_agent
  fi
  make_dirs
  lock_dir
  ensure_ports
  if ((no_fleet)); then echo no-fleet >"$DIR/mode"; else echo fleet >"$DIR/mode"; fi

  # PostgreSQL primary.
  if [[ ! -f "$(pg_data primary)/PG_VERSION" ]]; then
    init_primary
    fresh_primary=1
    STARTED+=("primary (new)")
  fi
  if ! pg_running primary; then
    pg_start primary
    ((fresh_primary)) || STARTED+=(primary)
  fi
  wait_until "the primary accepts connections" 'pg_ready primary' "$(pg_log primary)"
  ensure_app_db

  # Replicas: a new primary means the old clones are of another cluster.
  for n in "${REPLICAS[@]}"; do
    if ((fresh_primary)) && [[ -e "$(pg_data "$n")" ]]; then
      pg_stop "$n"
      say "$n: removing the clone of the previous primary"
      rm -rf "$(pg_data "$n")"
    fi
    if [[ ! -f "$(pg_data "$n")/PG_VERSION" ]]; then
      init_replica "$n"
      STARTED+=("$n (new)")
      pg_start "$n"
    elif ! pg_running "$n"; then
      pg_start "$n"
      STARTED+=("$n")
    fi
  done

  # Redis.
  if [[ -z "$(managed_pid redis "$REDIS_PATTERN")" ]]; then
    redis_start
    STARTED+=(redis)
  fi

  # The fleet. Configs are written even with --no-fleet so that CONVOY_CLUSTER names a file.
  ensure_token
  ensure_configs
  if ((!no_fleet)); then
    ensure_keys
    if [[ -z "$(managed_pid coordinator "$(coordinator_pattern)")" ]]; then
      start_coordinator
      STARTED+=(coordinator)
    fi
    if ((N_COORD == 2)) && [[ -z "$(managed_pid coordinator2 "$(coordinator2_pattern)")" ]]; then
      start_coordinator2
      STARTED+=(coordinator2)
    fi
    for n in "${AGENTS[@]}"; do
      if [[ -z "$(managed_pid "agent-$n" "$(agent_pattern "$n")")" ]]; then
        start_agent "$n"
        STARTED+=("agent-$n")
      fi
    done
  fi

  wait_ready "$no_fleet"
  if ((${#STARTED[@]} == 0)); then
    say "everything was already up; nothing to do"
  else
    say "started: ${STARTED[*]}"
  fi
  say "ready. Use it with: eval \"\$($PROG env)\""
}

# Polls CHECK (an expression) until true or the deadline; on timeout, fails naming WHAT.
wait_until() {
  local what="$1" check="$2" log="$3" deadline=$((SECONDS + TIMEOUT))
  until eval "$check"; do
    if ((SECONDS >= deadline)); then
      log_tail "$log"
      die "not ready after ${TIMEOUT} s: $what (log: $log)"
    fi
    sleep 0.2
  done
}

# Every component's readiness, polled together against one deadline.
wait_ready() {
  local no_fleet="$1" deadline=$((SECONDS + TIMEOUT)) n pending=() logs=() settle
  # A fleet process that dies on a bad config does so within a second of its start.
  settle=$SECONDS
  [[ " ${STARTED[*]} " =~ \ (coordinator|agent-) ]] && settle=$((SECONDS + 1))
  while :; do
    pending=()
    logs=()
    for n in "${NODES[@]}"; do
      if ! pg_running "$n"; then
        log_tail "$(pg_log "$n")"
        die "$n: PostgreSQL is not running (it exited; log: $(pg_log "$n"))"
      fi
      if ! pg_ready "$n"; then
        pending+=("$n: PostgreSQL on port ${PORT[$n]} does not accept connections (pg_isready)")
        logs+=("$(pg_log "$n")")
      elif [[ "$n" != primary ]]; then
        if [[ "$(pg_query "${PORT[$n]}" postgres "SELECT pg_is_in_recovery()" || true)" != t ]]; then
          pending+=("$n: pg_is_in_recovery() is not true (promoted? remove $(pg_data "$n") to re-clone it)")
          logs+=("$(pg_log "$n")")
        elif [[ "$(replication_row "$n")" != streaming\|* ]]; then
          pending+=("$n: not streaming from the primary (no streaming row for application_name=$n in the primary's pg_stat_replication)")
          logs+=("$(pg_log "$n")")
        fi
      fi
    done
    if [[ -z "$(managed_pid redis "$REDIS_PATTERN")" ]]; then
      log_tail "$DIR/logs/redis.log"
      die "redis-server exited (log: $DIR/logs/redis.log)"
    fi
    if ! redis_ping; then
      pending+=("redis: no PONG on 127.0.0.1:${PORT[redis]}")
      logs+=("$DIR/logs/redis.log")
    fi
    if ((!no_fleet)); then
      if [[ -z "$(managed_pid coordinator "$(coordinator_pattern)")" ]]; then
        log_tail "$DIR/logs/coordinator.log"
        die "the coordinator exited (log: $DIR/logs/coordinator.log)"
      fi
      for n in "${AGENTS[@]}"; do
        if [[ -z "$(managed_pid "agent-$n" "$(agent_pattern "$n")")" ]]; then
          log_tail "$DIR/logs/agent-$n.log"
          die "agent-$n exited (log: $DIR/logs/agent-$n.log)"
        fi
      done
      ((SECONDS >= settle)) || pending+=("fleet: processes settling")
    fi
    ((${#pending[@]} == 0)) && break
    if ((SECONDS >= deadline)); then
      printf 'local-cluster: error: not ready after %s s:\n' "$TIMEOUT" >&2
      for i in "${!pending[@]}"; do
        printf '  - %s\n' "${pending[$i]}" >&2
        log_tail "${logs[$i]:-}"
      done
      exit 1
    fi
    sleep 0.2
  done

  # The coordinator's own view of the fleet, when this build has it: informative only.
  if ((!no_fleet)) && convoy_has_cluster_status; then
    until env "PGHOST=127.0.0.1" "PGPORT=${PORT[primary]}" PGDATABASE=app PGUSER=postgres \
      timeout 5 "$CONVOY" status --cluster "$DIR/cluster.ini" >/dev/null 2>&1; do
      if ((SECONDS >= deadline)); then
        warn "'convoy status --cluster $DIR/cluster.ini' did not succeed within ${TIMEOUT} s; the processes run, but check $DIR/logs/coordinator.log and $DIR/logs/agent-*.log"
        return 0
      fi
      sleep 0.5
    done
    say "convoy status --cluster: the coordinator reports the fleet ready"
  fi
}

# ---------------------------------------------------------------------------------- down

cmd_down() {
  local purge="$1" n have_pg=0
  check_dir_path
  if [[ ! -d "$DIR" ]]; then
    say "$DIR does not exist; nothing to stop"
    return 0
  fi
  [[ -e "$DIR/$MARKER" ]] || die "$DIR was not made by $PROG; not touching it"
  lock_dir
  stop_managed coordinator "$(coordinator_pattern)"
  [[ -f "$DIR/pids/coordinator2.pid" ]] && stop_managed coordinator2 "$(coordinator2_pattern)"
  for n in "${AGENTS[@]}" cache $(app_nodes_configured); do
    [[ -f "$DIR/pids/agent-$n.pid" ]] && stop_managed "agent-$n" "$(agent_pattern "$n")"
  done
  for n in "${NODES[@]}"; do [[ -f "$(pg_data "$n")/PG_VERSION" ]] && have_pg=1; done
  if ((have_pg)); then
    find_pg
    for n in "${REPLICAS[@]}" primary; do pg_stop "$n"; done
  fi
  stop_managed redis "$REDIS_PATTERN"
  if ((purge)); then
    exec 9>&-
    rm -rf "$DIR"
    say "removed $DIR"
  else
    say "everything stopped; data, keys and logs stay in $DIR ('down --purge' removes them)"
  fi
}

# -------------------------------------------------------------------------------- status

cmd_status() {
  local n pid row state lag rlag all_up=1 mode fleet_expected=0 detail
  check_dir_path
  [[ -d "$DIR" ]] || { say "$DIR does not exist: run '$PROG up'"; exit 3; }
  require_ports
  find_pg
  mode="$(cat "$DIR/mode" 2>/dev/null || echo fleet)"
  [[ "$mode" == fleet ]] && fleet_expected=1
  CONVOY="$(find_convoy_bin convoy coordinator)"
  printf '%-15s %-5s %-6s %-8s %s\n' COMPONENT STATE PORT PID DETAIL
  for n in "${NODES[@]}"; do
    pid="$(pg_pid "$n")"
    if [[ -n "$pid" ]] && pg_ready "$n"; then
      state=up
      if [[ "$n" == primary ]]; then
        detail="PostgreSQL primary, database app"
      else
        row="$(replication_row "$n")"
        if [[ -n "$row" ]]; then
          IFS='|' read -r rstate lag rlag <<<"$row"
          if [[ "$rlag" == idle ]]; then rlag="replay_lag n/a: no recent WAL"; else rlag="replay_lag $rlag"; fi
          detail="replica, $rstate, $lag bytes behind ($rlag)"
          [[ "$rstate" == streaming ]] || all_up=0
        else
          detail="replica, NOT streaming (no pg_stat_replication row on the primary)"
          all_up=0
        fi
      fi
    else
      state=down
      all_up=0
      detail="log $(pg_log "$n")"
      [[ -n "$pid" ]] && detail="running but not accepting connections; $detail"
    fi
    printf '%-15s %-5s %-6s %-8s %s\n' "$n" "$state" "${PORT[$n]}" "${pid:--}" "$detail"
  done

  pid="$(managed_pid redis "$REDIS_PATTERN")"
  if [[ -n "$pid" ]] && redis_ping; then state=up; detail="redis://127.0.0.1:${PORT[redis]}"; else
    state=down all_up=0 detail="log $DIR/logs/redis.log"
  fi
  printf '%-15s %-5s %-6s %-8s %s\n' redis "$state" "${PORT[redis]}" "${pid:--}" "$detail"

  pid="$(managed_pid coordinator "$(coordinator_pattern)")"
  if [[ -n "$pid" ]]; then state=up detail="$(coordinator_endpoint), log $DIR/logs/coordinator.log"; else
    state=down detail="log $DIR/logs/coordinator.log"
    ((fleet_expected)) && all_up=0 || detail="not started (last up was --no-fleet)"
  fi
  printf '%-15s %-5s %-6s %-8s %s\n' coordinator "$state" "${PORT[coordinator]}" "${pid:--}" "$detail"
  [[ -f "$DIR/agents/cache.ini" ]] && AGENTS+=(cache)
  for n in $(app_nodes_configured); do AGENTS+=("$n"); done
  for n in "${AGENTS[@]}"; do
    pid="$(managed_pid "agent-$n" "$(agent_pattern "$n")")"
    if [[ -n "$pid" ]]; then state=up detail="log $DIR/logs/agent-$n.log"; else
      state=down detail="log $DIR/logs/agent-$n.log"
      ((fleet_expected)) && all_up=0 || detail="not started (last up was --no-fleet)"
    fi
    printf '%-15s %-5s %-6s %-8s %s\n' "agent-$n" "$state" - "${pid:--}" "$detail"
  done

  if [[ -n "$CONVOY" && -n "$(managed_pid coordinator "$(coordinator_pattern)")" ]] && convoy_has_cluster_status; then
    echo
    echo "convoy status --cluster $DIR/cluster.ini:"
    env "PGHOST=127.0.0.1" "PGPORT=${PORT[primary]}" PGDATABASE=app PGUSER=postgres \
      timeout 10 "$CONVOY" status --cluster "$DIR/cluster.ini" 2>&1 | sed 's/^/  /' || true
  fi
  ((all_up)) || exit 3
}

# ----------------------------------------------------------------------------------- env

# Single-quotes a value for sh/bash eval.
shq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

cmd_env() {
  local n uris=()
  check_dir_path
  require_ports
  for n in "${REPLICAS[@]}"; do uris+=("postgresql://postgres@127.0.0.1:${PORT[$n]}/app"); done
  echo "export PGHOST=127.0.0.1"
  echo "export PGPORT=${PORT[primary]}"
  echo "export PGDATABASE=app"
  echo "export PGUSER=postgres"
  echo "export CONVOY_CLUSTER=$(shq "$DIR/cluster.ini")"
  echo "export CONVOY_REPLICAS=$(shq "${uris[*]}")"
  echo "export CONVOY_REDIS_URL=$(shq "redis://127.0.0.1:${PORT[redis]}")"
  echo "export REDIS_URL=$(shq "redis://127.0.0.1:${PORT[redis]}")"
  echo "export CONVOY_HTTP=$(shq "http://127.0.0.1:${PORT[http]}")"
  [[ -f "$DIR/keys/http.token" ]] && echo "export CONVOY_TOKEN=$(shq "$(cat "$DIR/keys/http.token")")"
  echo "export CONVOY_LOCAL_DIR=$(shq "$DIR")"
}

# ---------------------------------------------------------------------------------- main

main() {
  local cmd="" no_fleet=0 purge=0 a
  [[ "${CONVOY_LOCAL_NO_FLEET:-0}" == 1 ]] && no_fleet=1
  [[ "$TIMEOUT" =~ ^[0-9]+$ ]] || die "CONVOY_LOCAL_TIMEOUT must be a number of seconds"
  for a in "$@"; do
    case "$a" in
      -h | --help | help) usage; exit 0 ;;
      --no-fleet) no_fleet=1 ;;
      --purge) purge=1 ;;
      up | down | status | env)
        [[ -z "$cmd" ]] || die "one command at a time (got '$cmd' and '$a'); see --help"
        cmd="$a"
        ;;
      *) die "unknown argument '$a'; see --help" ;;
    esac
  done
  [[ -n "$cmd" ]] || { usage >&2; exit 2; }
  [[ "$cmd" == up || "$no_fleet" == 0 || -n "${CONVOY_LOCAL_NO_FLEET:-}" ]] || die "--no-fleet goes with up"
  [[ "$cmd" == down || "$purge" == 0 ]] || die "--purge goes with down"
  case "$cmd" in
    up) cmd_up "$no_fleet" ;;
    down) cmd_down "$purge" ;;
    status) cmd_status ;;
    env) cmd_env ;;
  esac
}

main "$@"
