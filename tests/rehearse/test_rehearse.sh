#!/usr/bin/env bash
# test_rehearse.sh (ctest rehearse): issue 9, must-show 1. PROD has a `users` table with
# skewed, nullable and unique columns (REHEARSE_ROWS, default 200,000; docs/benchmarks.md has
# the 1M run); `convoy rehearse` builds STAGING from PROD's statistics and runs the seed's
# migration with a backfill under the default synthetic traffic. Checked here, from the
# databases themselves (not from convoy's own comparison): null fractions within 0.02,
# n_distinct within 20%, most of the MCVs shared; keys unique, FKs valid; PROD unchanged; the
# backfill ran on every row; the three report formats, the HTML self-contained.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
N=${REHEARSE_ROWS:-200000}

start_pg
make_prod "$N"
cd "$tmp" || exit 1
cat >seed.sql <<'SQL'
-- convoy:backfill last_login = created_at
ALTER TABLE users ADD COLUMN last_login timestamptz DEFAULT now() NOT NULL;
SQL
rc=0
"$convoy" rehearse seed.sql --db "$(db prod)" --staging "$(db staging)" --json --out "$tmp/r" \
    >out.json 2>err.txt || rc=$?
if ((rc != 0)); then
    fail "convoy rehearse exited $rc: $(tail -c 1500 err.txt)"
    exit 1
fi

# the three formats; the page needs nothing from the network
for ext in md html json; do
    [[ -s $tmp/r.$ext ]] || fail "no report r.$ext"
done
jq -e . "$tmp/r.json" >/dev/null || fail "r.json is not JSON"
cmp -s <(jq -S . out.json) <(jq -S . "$tmp/r.json") || fail "--json output differs from r.json"
grep -q '<svg' "$tmp/r.html" || fail "the HTML report has no chart"
if grep -Eiq '(src|href)="(https?:)?//|@import|url\(' "$tmp/r.html"; then
    fail "the HTML report loads something from outside: $(grep -Eio '(src|href)="[^"]*"' "$tmp/r.html" | head -3)"
fi
grep -q 'Risk:' "$tmp/r.md" || fail "the Markdown report has no risk"

# the migration ran through the engine on STAGING, with a backfill of every row, under traffic
jq -e '.phases[-1].name == "convoy" and .phases[-1].result == "done"' out.json >/dev/null ||
    fail "convoy's run did not finish: $(jq -c '.phases[-1] | {result, message}' out.json)"
rows=$(jq '[.phases[-1].steps[] | select(.kind == "backfill") | .rows] | max' out.json)
[[ $rows == "$N" ]] || fail "the backfill covered $rows rows, expected $N"
(($(jq '.phases[-1].transactions' out.json) > 1000)) || fail "hardly any traffic: $(jq '.phases[-1].transactions' out.json) transactions"
jq -e '.phases[-1].latency.during.n > 0 and .phases[-1].latency.before.n > 0 and .phases[-1].latency.after.n > 0' out.json >/dev/null ||
    fail "latency before/during/after missing: $(jq -c '.phases[-1].latency | del(.steps)' out.json)"
jq -e '.phases[-1].wal_bytes > 0 and (.risk.score | type) == "number" and (.risk.directive | startswith("-- convoy:risk "))' out.json >/dev/null ||
    fail "no WAL or risk: $(jq -c '{wal: .phases[-1].wal_bytes, risk}' out.json)"
[[ $(q staging "SELECT count(*) FROM users WHERE last_login IS DISTINCT FROM created_at") == 0 ]] ||
    fail "STAGING's last_login is not created_at everywhere"

# PROD is only read
[[ $(q prod "SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'last_login'") == 0 ]] ||
    fail "PROD was changed: users.last_login exists"
[[ $(q prod "SELECT to_regnamespace('convoy') IS NULL") == t ]] || fail "PROD has a convoy schema"

# STAGING's rows: counts, keys, references
[[ $(q staging "SELECT count(*) FROM users") == "$N" ]] || fail "STAGING has $(q staging 'SELECT count(*) FROM users') users, expected $N"
[[ $(q staging "SELECT count(*) = count(DISTINCT email) AND count(*) = count(DISTINCT id) FROM users") == t ]] ||
    fail "keys are not unique on STAGING"
[[ $(q staging "SELECT count(*) FROM users u WHERE org_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM orgs o WHERE o.id = u.org_id)") == 0 ]] ||
    fail "STAGING has users pointing at missing orgs"

# pg_stats, PROD next to STAGING, read here
stats() {
    q "$1" "SELECT attname, null_frac, CASE WHEN n_distinct < 0 THEN n_distinct ELSE n_distinct END,
                   CASE WHEN coalesce((SELECT sum(f) FROM unnest(most_common_freqs) f), 0) >= 0.01
                        THEN coalesce(array_to_json(most_common_vals::text::text[])::text, '[]')
                        ELSE '[]' END  -- MCVs covering < 1% of the rows are sampling noise
            FROM pg_stats WHERE schemaname = 'public' AND tablename = 'users' ORDER BY attname" |
        tr '|' '\t'
}
stats prod >prod.tsv
stats staging >staging.tsv
n_cols=0
while IFS=$'\t' read -r col nf nd mcv; do
    IFS=$'\t' read -r _ snf snd smcv < <(grep -P "^$col\t" staging.tsv)
    [[ -n ${snf:-} ]] || { fail "STAGING has no pg_stats for $col"; continue; }
    n_cols=$((n_cols + 1))
    # null fraction within 0.02
    awk -v a="$nf" -v b="$snf" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.02) }' ||
        fail "$col: null_frac PROD $nf, STAGING $snf (more than 0.02 apart)"
    # n_distinct within 20%: both as fractions of the rows (negative) or both as counts
    awk -v a="$nd" -v b="$snd" -v n="$N" 'BEGIN {
            if (a < 0 && b > 0) b = -b / n; if (a > 0 && b < 0) b = -b * n;
            d = a - b; if (d < 0) d = -d; m = a < 0 ? -a : a;
            exit !(d <= 0.2 * m + 1e-9) }' ||
        fail "$col: n_distinct PROD $nd, STAGING $snd (more than 20% apart)"
    # most common values: at least 60% of PROD's MCV list among STAGING's (the top 10 of a
        # near-uniform column like age is an arbitrary order of equal frequencies)
    if [[ $mcv != "[]" ]]; then
        shared=$(jq -n --argjson p "$mcv" --argjson s "$smcv" '[$p[] | select(. as $v | $s | index([$v]))] | length')
        total=$(jq -n --argjson p "$mcv" '$p | length')
        ((shared * 10 >= total * 6)) || fail "$col: only $shared of PROD's $total MCVs on STAGING"
        echo "  $col: null_frac $nf / $snf, n_distinct $nd / $snd, MCVs $shared of $total" >&2
    else
        echo "  $col: null_frac $nf / $snf, n_distinct $nd / $snd" >&2
    fi
done <prod.tsv
((n_cols >= 9)) || fail "compared only $n_cols columns"
# and convoy's own comparison agrees
jq -e '[.statistics[] | select(.table == "users") | .columns[] | .null_frac_ok and .n_distinct_ok and (.mcv_ok != false)] | all' out.json >/dev/null ||
    fail "convoy's comparison finds a column off: $(jq -c '[.statistics[].columns[] | select((.null_frac_ok and .n_distinct_ok and (.mcv_ok != false)) | not)]' out.json)"

# generation speed against INSERT ... SELECT of the same rows (quoted, not a pass/fail bound)
jq -r '.generation[] | select(.table == "users") |
    "generation: \(.rows) rows in \(.generate_ms) ms = \(.generate_rows_per_s | floor) rows/s; INSERT ... SELECT: \(.insert_select_ms) ms = \(.insert_select_rows_per_s | floor) rows/s; ratio \(.ratio * 100 | floor / 100)"' out.json >&2
jq -e '.generation[] | select(.table == "users") | .generate_rows_per_s > 0 and .insert_select_rows_per_s > 0' out.json >/dev/null ||
    fail "generation speed not measured"

if ((failures > 0)); then
    echo "rehearse: $failures failure(s); report kept in $tmp (KEEP=1)" >&2
    KEEP=1
    exit 1
fi
echo "rehearse: ok ($N rows)"
