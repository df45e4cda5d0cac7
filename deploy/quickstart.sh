#!/usr/bin/env bash
# quickstart.sh: build convoy, start a throwaway PostgreSQL, and apply the seed's column safely.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROWS="${ROWS:-200000}"
BINDIR="$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)"
[ -x "$BINDIR/initdb" ] || BINDIR=/usr/lib/postgresql/15/bin

usage() {
  cat <<USAGE
usage: deploy/quickstart.sh

Builds convoy, starts a temporary PostgreSQL primary on a free port, creates a
users table with \$ROWS rows (default 200000), then runs:
  convoy plan  docs/examples/add_last_login.sql   (the seed's statement)
  convoy apply docs/examples/add_last_login.sql
  convoy apply docs/examples/add_token.sql         (volatile default + backfill + index)
  convoy status; convoy audit
and stops the server. Nothing outside a temp directory is touched.
USAGE
}
[ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ] && { usage; exit 0; }

echo "== building convoy"
cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$ROOT/build" -j"$(nproc)" --target convoy >/dev/null
CONVOY="$ROOT/build/coordinator/convoy"

TMP="$(mktemp -d /tmp/convoy-quickstart.XXXXXX)"
RUN=()
if [ "$(id -u)" = 0 ]; then
  chown postgres "$TMP"
  RUN=(runuser -u postgres --)
fi
cleanup() {
  "${RUN[@]}" "$BINDIR/pg_ctl" -D "$TMP/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  echo "quickstart: no free port found" >&2
  return 1
}
PORT="$(free_port)"
echo "== starting PostgreSQL on 127.0.0.1:$PORT (data in $TMP)"
"${RUN[@]}" "$BINDIR/initdb" -A trust --nosync -U postgres -D "$TMP/data" >/dev/null
"${RUN[@]}" "$BINDIR/pg_ctl" -D "$TMP/data" -l "$TMP/server.log" -w \
  -o "-p $PORT -k $TMP -c listen_addresses=127.0.0.1" start >/dev/null
export PGHOST=127.0.0.1 PGPORT="$PORT" PGUSER=postgres PGDATABASE=postgres

psql -qX -v ON_ERROR_STOP=1 <<SQL
CREATE TABLE users (id bigserial PRIMARY KEY, name text, created_at timestamptz DEFAULT now());
INSERT INTO users (name) SELECT 'user ' || g FROM generate_series(1, $ROWS) g;
ANALYZE users;
SQL
echo "== users has $ROWS rows"
FILENODE_BEFORE="$(psql -qXAt -c "SELECT pg_relation_filenode('users')")"

cd "$ROOT/docs/examples"
echo; echo "== convoy plan add_last_login.sql"
"$CONVOY" plan add_last_login.sql
echo; echo "== convoy apply add_last_login.sql"
"$CONVOY" apply add_last_login.sql
echo; echo "== convoy apply add_token.sql"
"$CONVOY" apply add_token.sql
echo; echo "== convoy status"
"$CONVOY" status
echo; echo "== convoy audit add_last_login"
"$CONVOY" audit add_last_login
echo; echo "== the result"
psql -X -c '\d users'
FILENODE_AFTER="$(psql -qXAt -c "SELECT pg_relation_filenode('users')")"
NULLS="$(psql -qXAt -c "SELECT count(*) FROM users WHERE last_login IS NULL OR token IS NULL")"
echo "users relfilenode before: $FILENODE_BEFORE, after: $FILENODE_AFTER" \
  "($([ "$FILENODE_BEFORE" = "$FILENODE_AFTER" ] && echo 'never rewritten' || echo 'REWRITTEN'));" \
  "rows with a NULL last_login or token: $NULLS"
[ "$FILENODE_BEFORE" = "$FILENODE_AFTER" ] && [ "$NULLS" = 0 ]
