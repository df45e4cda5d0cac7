#!/usr/bin/env bash
# tests/lib/pg.sh: a throwaway PostgreSQL 15 for the shell tests (tests/rehearse, tests/explain):
# in a temp dir on a free port, run as the postgres user through runuser when root, stopped
# and removed on exit. Before sourcing: PG_TEST_NAME (the temp dir's name), PG_TEST_TOOLS
# (commands besides psql and jq the test needs); before start_pg: PG_CONF.
set -uo pipefail

convoy=${CONVOY_BIN:?set CONVOY_BIN to the convoy binary}

skip() {
    echo "SKIP: $*" >&2
    [[ -n ${CONVOY_TEST_NO_SKIP:-} ]] && exit 1
    exit 77
}

PGBIN=${PGBIN:-$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)}
[[ -x $PGBIN/initdb && -x $PGBIN/pg_ctl ]] || skip "no PostgreSQL server binaries in $PGBIN"
for t in psql jq ${PG_TEST_TOOLS:-}; do
    command -v "$t" >/dev/null 2>&1 || [[ -x $PGBIN/$t ]] || skip "$t is not installed"
done
export PATH=$PGBIN:$PATH

tmp=$(mktemp -d "/tmp/convoy-${PG_TEST_NAME:-test}.XXXXXX")
chmod 755 "$tmp"
failures=0

as_pg() {
    if [[ $(id -u) == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

cleanup() {
    [[ -n ${APPLY_PID:-} ]] && kill "$APPLY_PID" 2>/dev/null
    as_pg "$PGBIN/pg_ctl" -D "$tmp/data" -m immediate stop >/dev/null 2>&1
    if [[ -n ${KEEP:-} ]]; then
        echo "kept $tmp" >&2
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_pg: initdb and start, with the lines of $PG_CONF (if set) added to postgresql.conf;
# sets PORT; the server log is $tmp/pg.log
start_pg() {
    PORT=$(free_port)
    mkdir -p "$tmp/data" && [[ $(id -u) == 0 ]] && chown postgres "$tmp" "$tmp/data"
    as_pg "$PGBIN/initdb" -A trust --nosync -U postgres -D "$tmp/data" >"$tmp/initdb.log" 2>&1 ||
        { cat "$tmp/initdb.log" >&2; exit 1; }
    [[ -n ${PG_CONF:-} ]] && printf '%s\n' "$PG_CONF" >>"$tmp/data/postgresql.conf"
    as_pg "$PGBIN/pg_ctl" -D "$tmp/data" -w -l "$tmp/pg.log" \
        -o "-p $PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$tmp -c fsync=off -c max_connections=50 -c shared_buffers=256MB" \
        start >/dev/null || { cat "$tmp/pg.log" >&2; exit 1; }
}

db() {
    echo "host=127.0.0.1 port=$PORT user=postgres dbname=$1"
}

q() { # q DB SQL: one value
    psql -X -qAt -v ON_ERROR_STOP=1 "$(db "$1")" -c "$2"
}
