#!/usr/bin/env bash
# test_explain_review.sh: `convoy explain-review` against a real PostgreSQL 15 with
# pg_stat_statements (shared_preload_libraries) and HypoPG (ctest explain_review).
#   - a migration adding an index a top statement needs: Seq Scan -> Index Scan, "serves";
#   - a migration dropping an index a top statement uses: flagged as a regression (exit 10);
#   - a database without HypoPG: before-only, and the drop is still flagged;
#   - nothing written: pg_class/pg_index/pg_namespace unchanged, no convoy schema, and the
#     server's statement log shows no writing statement from convoy's sessions.
# The server runs as the postgres user (runuser when root) on a free port in a temp dir,
# stopped and removed on any exit.
PG_TEST_NAME=explain
source "$(dirname "${BASH_SOURCE[0]}")/../lib/pg.sh"

sharedir=$("$PGBIN/pg_config" --sharedir 2>/dev/null || pg_config --sharedir)
[[ -f $sharedir/extension/hypopg.control ]] || skip "HypoPG is not installed (postgresql-15-hypopg)"
[[ -f $sharedir/extension/pg_stat_statements.control ]] || skip "pg_stat_statements missing"

trap 'exit 1' INT TERM
PG_CONF="shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track_utility = off
log_statement = 'all'
log_line_prefix = '[%a] '"
start_pg

psql_db() {
    local db=$1
    shift
    psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d "$db" "$@"
}
conninfo() { db "$1"; }

# Two PROD databases: with HypoPG installed (by an administrator, before the review) and without.
for db in prod prod_nohypo; do
    psql_db postgres -c "CREATE DATABASE $db" || exit 1
    psql_db "$db" <<'EOF' || exit 1
CREATE EXTENSION pg_stat_statements;
CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, name text NOT NULL,
                    created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO users (id, email, name)
  SELECT g, 'user' || g || '@example.com', 'name' || (g % 5000) FROM generate_series(1, 200000) g;
CREATE INDEX users_name_idx ON users (name);
CREATE TABLE other (id bigint PRIMARY KEY, note text);
ANALYZE;
EOF
done
psql_db prod -c "CREATE EXTENSION hypopg" || exit 1

# The workload, recorded by pg_stat_statements: the statements the review must find (the
# reset, without arguments, is cluster-wide: once, before both).
psql_db prod -c "SELECT pg_stat_statements_reset()" >/dev/null
for db in prod prod_nohypo; do
    for i in $(seq 1 25); do
        psql_db "$db" -c "SELECT id, name FROM users WHERE email = 'user$i@example.com'" >/dev/null
        psql_db "$db" -c "SELECT id, email FROM users WHERE name = 'name$i'" >/dev/null
        psql_db "$db" -c "SELECT note FROM other WHERE id = $i" >/dev/null
    done
    n=$(psql_db "$db" -c "SELECT count(*) FROM pg_stat_statements WHERE query LIKE '%FROM users WHERE%' AND calls = 25 AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())")
    [[ $n == 2 ]] || { echo "pg_stat_statements did not record the workload in $db:" >&2
                       psql_db "$db" -c "SELECT calls, query FROM pg_stat_statements" >&2; exit 1; }
done

cat >"$tmp/add_email_idx.sql" <<'EOF'
CREATE INDEX users_email_idx ON users (email);
EOF
cat >"$tmp/drop_name_idx.sql" <<'EOF'
DROP INDEX users_name_idx;
EOF

# What must not change on PROD.
snapshot() {
    psql_db "$1" -c "SELECT c.oid, c.relname, c.relkind, c.relfilenode, c.relhasindex,
                            coalesce(array_agg(i.indexrelid::regclass::text ORDER BY i.indexrelid)
                                     FILTER (WHERE i.indexrelid IS NOT NULL), '{}')
                     FROM pg_class c LEFT JOIN pg_index i ON i.indrelid = c.oid
                     WHERE c.relnamespace = 'public'::regnamespace
                     GROUP BY 1, 2, 3, 4, 5 ORDER BY 1;
                     SELECT count(*) FROM pg_namespace WHERE nspname = 'convoy';
                     SELECT count(*) FROM pg_class WHERE relpersistence = 't';"
}
before_prod=$(snapshot prod)
before_nohypo=$(snapshot prod_nohypo)
log_mark=$(wc -l <"$tmp/pg.log")

# run EXPECTED_RC OUT ARGS...
run() {
    local want=$1 out=$2 rc=0
    shift 2
    "$convoy" "$@" >"$tmp/$out" 2>"$tmp/$out.err" || rc=$?
    if ((rc != want)); then
        fail "convoy $* exited $rc, expected $want; stdout: $(head -c 1500 "$tmp/$out"); stderr: $(head -c 800 "$tmp/$out.err")"
    fi
}
# jqt FILE FILTER MESSAGE: fails unless the jq filter is true on FILE.
jqt() {
    if [[ $(jq -r "$2" "$tmp/$1" 2>&1) != true ]]; then
        fail "$3 ($1: $2)"
        jq -c '{mode, why, notes, indexes_created, indexes_dropped, statements: [.statements[] | {query, diff, error}]}' "$tmp/$1" >&2
    fi
}

email='.statements[] | select(.query | test("email = \\$1"))'
byname='.statements[] | select(.query | test("name = \\$1"))'

echo "== 1. adding an index a top statement needs (HypoPG)" >&2
run 0 add.json explain-review "$tmp/add_email_idx.sql" --db "$(conninfo prod)" --json
jqt add.json '.mode == "hypothetical" and .read_only' "hypothetical mode on a database with HypoPG"
jqt add.json '[.statements[] | select(.query | test("FROM other"))] | length == 0' \
    "a statement on another table is not reviewed"
jqt add.json "[$email] | length == 1" "the top statement on email is found in pg_stat_statements"
jqt add.json "[$email | .diff.before_shape == \"Seq Scan on users\"] == [true]" "before: Seq Scan"
jqt add.json "[$email | .diff.after_shape == \"Index Scan using users_email_idx on users\"] == [true]" \
    "after: Index Scan using the new index (hypothetical name mapped)"
jqt add.json "[$email | .diff.changes | index(\"users: Seq Scan -> Index Scan using users_email_idx\") != null] == [true]" \
    "the plan change is reported"
jqt add.json "[$email | .diff.regression] == [false]" "an improvement is not a regression"
jqt add.json "([$email | .queryid][0]) as \$q | .indexes_created[0].serves | any(.[]; . == \$q)" \
    "the new index serves the email statement"
jqt add.json "[$byname | .diff.changed] == [false]" "the statement on name keeps its plan"
jqt add.json '.regressions == 0' "no regression when adding an index"
run 0 add.txt explain-review "$tmp/add_email_idx.sql" --db "$(conninfo prod)"
grep -q 'users: Seq Scan -> Index Scan using users_email_idx' "$tmp/add.txt" ||
    fail "the text report shows Seq Scan -> Index Scan: $(cat "$tmp/add.txt")"
grep -q 'new index users_email_idx: serves 1 statement' "$tmp/add.txt" ||
    fail "the text report says which statements the new index serves: $(cat "$tmp/add.txt")"
cat "$tmp/add.txt" >&2

echo "== 2. dropping an index a top statement uses" >&2
run 10 drop.json explain-review "$tmp/drop_name_idx.sql" --db "$(conninfo prod)" --json
jqt drop.json "[$byname | .diff.regression] == [true]" "the statement using the dropped index is a regression"
jqt drop.json "[$byname | .diff.uses_dropped] == [[\"users_name_idx\"]]" "it names the dropped index"
jqt drop.json "[$email | .diff.regression] == [false]" "a statement not using it is not flagged"
jqt drop.json '.regressions == 1' "exactly one regression"
jqt drop.json '.indexes_dropped[0].used_by | length == 1' "the dropped index's users are listed"
run 10 drop.txt explain-review "$tmp/drop_name_idx.sql" --db "$(conninfo prod)"
grep -q 'REGRESSION: uses index users_name_idx' "$tmp/drop.txt" ||
    fail "the text report flags the regression: $(cat "$tmp/drop.txt")"
cat "$tmp/drop.txt" >&2

echo "== 3. without HypoPG: before-only" >&2
run 0 nohypo_add.json explain-review "$tmp/add_email_idx.sql" --db "$(conninfo prod_nohypo)" --json
jqt nohypo_add.json '.mode == "before-only" and (.why | test("HypoPG is not installed"))' \
    "before-only, saying HypoPG is missing"
jqt nohypo_add.json "[$email | .diff.after_shape] == [null]" "no after plan without HypoPG"
run 10 nohypo_drop.json explain-review "$tmp/drop_name_idx.sql" --db "$(conninfo prod_nohypo)" --json
jqt nohypo_drop.json "[$byname | .diff.regression] == [true]" "the drop is still flagged without HypoPG"

echo "== 4. a threshold and --top" >&2
run 0 top1.json explain-review "$tmp/add_email_idx.sql" --db "$(conninfo prod)" --json --top 1 --threshold 5
jqt top1.json '(.statements | length) == 1 and .top == 1 and .threshold_pct == 5' "--top 1 --threshold 5"
run 2 usage.txt explain-review "$tmp/add_email_idx.sql" --top 0

echo "== 5. nothing was written to PROD" >&2
[[ $(snapshot prod) == "$before_prod" ]] || fail "pg_class/pg_index of prod changed:
$before_prod
---
$(snapshot prod)"
[[ $(snapshot prod_nohypo) == "$before_nohypo" ]] || fail "pg_class/pg_index of prod_nohypo changed"
[[ $(psql_db prod -c "SELECT count(*) FROM pg_namespace WHERE nspname = 'convoy'") == 0 ]] ||
    fail "the convoy schema was created"
[[ $(psql_db prod -c "SELECT count(*) FROM pg_class WHERE relname = 'users_email_idx'") == 0 ]] ||
    fail "the index was really created"
[[ $(psql_db prod -c "SELECT count(*) FROM pg_class WHERE relname = 'users_name_idx'") == 1 ]] ||
    fail "the index was really dropped"
# every statement convoy's sessions sent, from the server's own log
tail -n +"$((log_mark + 1))" "$tmp/pg.log" | grep '^\[convoy' | grep -E 'statement: |execute [^:]*: ' \
    >"$tmp/convoy_statements.log"
[[ -s $tmp/convoy_statements.log ]] || fail "no convoy statement in the server log (log_line_prefix?)"
if grep -E -i '(statement|execute [^:]*): *(CREATE|ALTER|DROP|INSERT|UPDATE|DELETE|TRUNCATE|COPY|GRANT|REVOKE|VACUUM|ANALYZE|CLUSTER|REINDEX|COMMENT|SELECT .*(nextval|setval|pg_advisory))' \
    "$tmp/convoy_statements.log" >"$tmp/writes.log"; then
    fail "convoy sent writing statements: $(head -20 "$tmp/writes.log")"
fi
grep -q 'SET default_transaction_read_only = on' "$tmp/convoy_statements.log" ||
    fail "the session was not made read-only first"
grep -q 'BEGIN TRANSACTION READ ONLY' "$tmp/convoy_statements.log" ||
    fail "the review did not run in a read-only transaction"

echo "== 6. the rehearsal's path: a real after on a STAGING copy (engine API)" >&2
if [[ -n ${EXPLAIN_API_BIN:-} ]]; then
    psql_db postgres -c "CREATE DATABASE staging TEMPLATE prod" || exit 1
    "$EXPLAIN_API_BIN" "$(conninfo prod)" "$(conninfo staging)" "$tmp/drop_name_idx.sql" \
        >"$tmp/api.json" 2>"$tmp/api.err" || fail "explain_api failed: $(cat "$tmp/api.err")"
    cat "$tmp/api.err" >&2
    jqt api.json '.mode == "rehearsal"' "rehearsal mode"
    jqt api.json "[$byname | .diff.after_shape | test(\"^Seq Scan on users\")] == [true]" \
        "after the real DROP INDEX: Seq Scan"
    jqt api.json "[$byname | .diff.changes | any(.[]; test(\"users: Bitmap Heap Scan using users_name_idx -> Seq Scan\"))] == [true]" \
        "the access path change is reported"
    jqt api.json "[$byname | .diff.reasons | any(.[]; test(\"estimated cost .* over the 20% threshold\"))] == [true]" \
        "a real after is judged by cost: a regression"
    jqt api.json "[$email | .diff.regression] == [false]" "the email statement is not affected"
    [[ $(psql_db prod -c "SELECT count(*) FROM pg_class WHERE relname = 'users_name_idx'") == 1 ]] ||
        fail "PROD lost its index (the drop ran on STAGING only)"
else
    echo "(EXPLAIN_API_BIN not set: skipped)" >&2
fi

if ((failures > 0)); then
    echo "$failures failure(s)" >&2
    exit 1
fi
echo "explain-review: all checks passed" >&2
