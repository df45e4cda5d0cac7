#!/usr/bin/env bash
# quickstart.sh: build convoy, bring up a local cluster (a primary, 2 streaming replicas,
# an agent per node, the coordinator), and ship the seed's column through the coordinator.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROWS="${ROWS:-1000000}"
export CONVOY_LOCAL_DIR="${CONVOY_LOCAL_DIR:-$ROOT/.convoy-local}"

usage() {
  cat <<USAGE
usage: deploy/quickstart.sh [--down]

Builds convoy, then (in \$CONVOY_LOCAL_DIR, default <repo>/.convoy-local, recreated):
  deploy/local-cluster.sh up       a primary, 2 streaming replicas (pg_basebackup -R),
                                   redis, CURVE keys, an agent per node, the coordinator
  a users table with \$ROWS rows (default 1000000)
  convoy plan docs/examples/add_last_login_fleet.sql
  convoy apply --cluster ... add_last_login_fleet.sql    (live: rows/s, ETA, worst replica lag)
  convoy status; convoy audit
The cluster stays up for you to look at; --down stops it at the end
(or later: deploy/local-cluster.sh down --purge).
USAGE
}
DOWN=0
case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  --down) DOWN=1 ;;
  "") ;;
  *) usage >&2; exit 2 ;;
esac

BUILD="${CONVOY_BUILD_DIR:-$ROOT/build}"
echo "== building convoy and convoy-agent in $BUILD"
if [[ -f "$BUILD/CMakeCache.txt" ]]; then
  cmake -S "$ROOT" -B "$BUILD" >/dev/null
else
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD" -j"$(nproc)" --target convoy convoy-agent >/dev/null
CONVOY="$BUILD/coordinator/convoy"
export CONVOY_BIN="$BUILD/qs-bin"
mkdir -p "$CONVOY_BIN"
ln -sf "$CONVOY" "$CONVOY_BIN/convoy"
ln -sf "$BUILD/agent/convoy-agent" "$CONVOY_BIN/convoy-agent"

echo "== bringing up the local cluster in $CONVOY_LOCAL_DIR"
bash "$ROOT/deploy/local-cluster.sh" down --purge >/dev/null 2>&1 || true
bash "$ROOT/deploy/local-cluster.sh" up
eval "$(bash "$ROOT/deploy/local-cluster.sh" env)"
((DOWN)) && trap 'bash "$ROOT/deploy/local-cluster.sh" down' EXIT

echo; echo "== a users table with $ROWS rows on the primary"
psql -qX -v ON_ERROR_STOP=1 <<SQL
CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL,
                    created_at timestamptz DEFAULT now() - random() * interval '3 years');
INSERT INTO users (email) SELECT 'user' || g || '@example.com' FROM generate_series(1, $ROWS) g;
VACUUM ANALYZE users;
SQL

cd "$ROOT/docs/examples"
echo; echo "== convoy plan add_last_login_fleet.sql"
"$CONVOY" plan add_last_login_fleet.sql
echo; echo "== convoy apply --cluster \$CONVOY_CLUSTER add_last_login_fleet.sql"
"$CONVOY" apply --cluster "$CONVOY_CLUSTER" add_last_login_fleet.sql
echo; echo "== convoy status add_last_login_fleet"
"$CONVOY" status add_last_login_fleet
echo; echo "== convoy audit add_last_login_fleet"
"$CONVOY" audit add_last_login_fleet
echo; echo "== on every node"
for uri in "postgresql://postgres@127.0.0.1:$PGPORT/app" $CONVOY_REPLICAS; do
  printf '%s: ' "$uri"
  psql -qXAt -d "$uri" -c "SELECT count(*) || ' users, ' || count(last_login) || ' with last_login, ' || (SELECT count(*) FROM users WHERE last_login IS DISTINCT FROM coalesce(created_at, last_login)) || ' differ from created_at' FROM users"
done
echo
if ((DOWN)); then
  echo "--down: stopping the cluster (its data and logs stay; deploy/local-cluster.sh down --purge removes them)."
else
  echo "The cluster is still up: eval \"\$(deploy/local-cluster.sh env)\" to use it;"
  echo "deploy/local-cluster.sh down --purge to remove it."
fi
