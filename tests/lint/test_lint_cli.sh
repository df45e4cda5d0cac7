#!/usr/bin/env bash
# test_lint_cli.sh: `convoy lint` end to end (ctest lint_cli): SARIF 2.1.0 structure, GitHub
# Actions annotation syntax, the seed statement, exit codes by --fail-on, convoy.ini's [lint],
# -- convoy:allow, bad input, and the findings in `convoy plan`. No database needed.
set -uo pipefail

convoy=${CONVOY_BIN:?set CONVOY_BIN to the convoy binary}
if ! command -v jq >/dev/null 2>&1; then
    echo "SKIP: jq is not installed (apt-get install jq)" >&2
    [[ -n ${CONVOY_TEST_NO_SKIP:-} ]] && exit 1
    exit 77
fi

docs=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/docs/lint.md
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# run EXPECTED_RC ARGS...: runs convoy, keeps stdout in out.txt and stderr in err.txt.
run() {
    local want=$1 rc=0
    shift
    "$convoy" "$@" >out.txt 2>err.txt || rc=$?
    if ((rc != want)); then
        fail "convoy $* exited $rc, expected $want; stdout: $(head -c 600 out.txt); stderr: $(head -c 600 err.txt)"
    fi
}

cat >seed.sql <<'EOF'
ALTER TABLE users ADD COLUMN last_login timestamptz DEFAULT now() NOT NULL;
EOF
cat >seed_timestamp.sql <<'EOF'
ALTER TABLE users ADD COLUMN last_login timestamp DEFAULT now() NOT NULL;
EOF
cat >mixed.sql <<'EOF'
-- convoy:allow json-type the reporting client reads json, "as is"
ALTER TABLE users ADD COLUMN settings json;
CREATE INDEX users_name_idx ON users (name);
TRUNCATE users CASCADE;
ALTER TABLE users ADD COLUMN usr_note text, ADD COLUMN "createdAt" timestamp;
EOF

# 1. The seed's exact statement: the now() finding and nothing else; exit 0 (a warning).
run 0 lint --format json seed.sql
if [[ $(jq -c '[.files[].findings[].rule]' out.txt) != '["default-now-existing-rows"]' ]]; then
    fail "seed statement: expected only default-now-existing-rows, got $(jq -c '[.files[].findings[].rule]' out.txt)"
fi
jq -e '.files[0].findings[0] | .line == 1 and .column == 53 and .severity == "warning"' out.txt >/dev/null ||
    fail "seed statement: finding not at 1:53 as a warning: $(cat out.txt)"
jq -e '.files[0].assumptions | length > 0' out.txt >/dev/null || fail "offline run lists no assumptions"
run 0 lint --format json seed_timestamp.sql
jq -e '[.files[].findings[].rule] | index("timestamp-without-time-zone") != null' out.txt >/dev/null ||
    fail "timestamp variant lacks the timestamptz finding: $(cat out.txt)"

# 2. Text: file:line:column, rule, fix.
run 0 lint seed.sql
grep -q '^seed.sql:1:53: warning \[default-now-existing-rows\] ' out.txt || fail "text output: $(cat out.txt)"
grep -q '    fix: add `-- convoy:backfill last_login = <expression>`' out.txt || fail "text output lacks the fix"

# 3. SARIF 2.1.0.
run 9 lint --format sarif mixed.sql seed.sql
jq -e '
  .version == "2.1.0"
  and (.["$schema"] | test("sarif-2.1.0"))
  and (.runs | length == 1)
  and (.runs[0].tool.driver.name == "convoy")
  and (.runs[0].tool.driver.rules | length > 30)
  and all(.runs[0].tool.driver.rules[]; (.id | type == "string") and (.shortDescription.text | length > 0)
          and (.defaultConfiguration.level | IN("error", "warning", "note", "none")))
  and (.runs[0].results | length > 0)
  and all(.runs[0].results[];
          (.ruleId | type == "string") and (.level | IN("error", "warning", "note"))
          and (.message.text | length > 0)
          and (.locations[0].physicalLocation.artifactLocation.uri | IN("mixed.sql", "seed.sql"))
          and (.locations[0].physicalLocation.region.startLine | type == "number" and . >= 1)
          and (.locations[0].physicalLocation.region.startColumn | type == "number" and . >= 1))
  and (. as $r | all($r.runs[0].results[]; $r.runs[0].tool.driver.rules[.ruleIndex].id == .ruleId))
' out.txt >/dev/null || fail "SARIF structure: $(head -c 2000 out.txt)"
jq -e '[.runs[0].results[] | select(.ruleId == "json-type")][0].suppressions[0]
       | .kind == "inSource" and (.justification | startswith("the reporting client"))' out.txt >/dev/null ||
    fail "SARIF: the allowed finding lacks its inSource suppression and reason"

# 4. GitHub Actions annotations: every line is a workflow command of the documented syntax.
run 9 lint --format github mixed.sql seed.sql
[[ -s out.txt ]] || fail "github: no annotations"
while IFS= read -r line; do
    [[ $line =~ ^::(error|warning|notice)\ file=[^,:]+,line=[0-9]+,col=[0-9]+,title=[^,:]+::.+$ ]] ||
        fail "github: not an annotation: $line"
done <out.txt
grep -q '^::error file=mixed.sql,line=4,col=1,title=convoy truncate::' out.txt || fail "github: TRUNCATE error missing"
grep -q '^::warning file=seed.sql,line=1,col=53,title=convoy default-now-existing-rows::' out.txt ||
    fail "github: seed warning missing"
grep -q 'json-type' out.txt && fail "github: the allowed finding is annotated"

# 5. Exit codes by --fail-on.
run 0 lint seed.sql                       # warning < error (the default)
run 9 lint --fail-on warning seed.sql
run 9 lint --fail-on info seed.sql
run 9 lint mixed.sql                      # TRUNCATE is an error
run 0 lint --fail-on never mixed.sql
run 2 lint --fail-on sometimes seed.sql
grep -q -- "--fail-on is error, warning, info or never" err.txt || fail "bad --fail-on message: $(cat err.txt)"
run 2 lint --format xml seed.sql
run 2 lint
printf 'ALTER TABLE users ADD COLUMN x int\nSELEC 1;\n' >broken.sql
run 1 lint broken.sql seed.sql
grep -q '^convoy: broken.sql:[0-9]*:[0-9]*: ' err.txt || fail "bad input does not name file:line:col: $(cat err.txt)"
grep -q '^seed.sql:1:53' out.txt || fail "the other file is still linted"

printf 'CREATE TABLE users (status varchar(20) NOT NULL);\nCREAT TABLE b ();\n' >bad_schema.sql
run 1 lint --schema bad_schema.sql seed.sql
grep -q '^convoy: bad_schema.sql:2:1: ' err.txt || fail "bad --schema does not name file:line:col: $(cat err.txt)"
# --schema: the current type is known, so a varchar widening gets no finding (without it, info)
printf 'CREATE TABLE users (status varchar(20) NOT NULL);\n' >schema.sql
printf 'ALTER TABLE users ALTER COLUMN status TYPE varchar(40);\n' >widen.sql
run 0 lint --format json --schema schema.sql widen.sql
[[ $(jq '[.files[].findings[]] | length' out.txt) == 0 ]] || fail "--schema: widening still reported: $(cat out.txt)"
run 0 lint --format json widen.sql
jq -e '.files[0].findings[0] | .rule == "type-change-rewrites" and .severity == "info"' out.txt >/dev/null ||
    fail "without --schema the widening is not reported as checked at apply: $(cat out.txt)"

# 6. -- convoy:allow: the reason is kept; a missing reason is an error at file:line.
run 9 lint --format json mixed.sql
jq -e '[.files[0].findings[] | select(.rule == "json-type")][0].allowed == "the reporting client reads json, \"as is\""' out.txt >/dev/null ||
    fail "allow: reason not kept: $(cat out.txt)"
jq -e '.counts.allowed == 1' out.txt >/dev/null || fail "allow: not counted"
printf -- '-- convoy:allow json-type\nALTER TABLE users ADD COLUMN settings json;\n' >noreason.sql
run 1 lint noreason.sql
grep -q 'noreason.sql:1:.*needs a reason' err.txt || fail "allow without a reason: $(cat err.txt)"

# 7. convoy.ini [lint]: rules off / severities / abbreviations; errors at file:line.
printf '[lint]\ndefault-now-existing-rows = off\nname-abbreviation = error\nabbreviations = note=annotation\n' >convoy.ini
run 0 lint --format json seed.sql
[[ $(jq '[.files[].findings[]] | length' out.txt) == 0 ]] || fail "convoy.ini: rule not turned off: $(cat out.txt)"
run 9 lint --format json mixed.sql
jq -e '[.files[0].findings[] | select(.rule == "name-abbreviation")] | length == 1 and .[0].severity == "error"' out.txt >/dev/null ||
    fail "convoy.ini: severity not applied: $(cat out.txt)"
printf '[lint]\njson-type = loud\nno-such = 1\n' >bad.ini
run 1 lint --config bad.ini seed.sql
grep -q '^convoy: bad.ini:2: json-type = loud' err.txt || fail "config error lacks file:line: $(cat err.txt)"
grep -q '^convoy: bad.ini:3: unknown key' err.txt || fail "config: not every error reported: $(cat err.txt)"
rm convoy.ini

# 8. The same findings in convoy plan.
run 0 plan --offline --json seed.sql
jq -e '.findings | length == 1 and .[0].rule == "default-now-existing-rows"' out.txt >/dev/null ||
    fail "plan --json lacks the findings array: $(head -c 800 out.txt)"
run 0 plan --offline seed.sql
grep -q '^lint (docs/lint.md):' out.txt || fail "plan text lacks the lint section"
grep -q '  seed.sql:1:53: warning \[default-now-existing-rows\]' out.txt || fail "plan text lacks the finding"

# 9. --help: the options and exit code 9.
run 0 lint --help
for want in "usage: convoy lint FILE... [options]" "--format FORMAT" "--fail-on LEVEL" "--schema FILE" \
    "--config FILE" "--db CONNINFO" "  9  "; do
    grep -qF -- "$want" out.txt || fail "lint --help lacks '$want'"
done

# 10. docs/lint.md: an entry with a bad and a good example for every rule, and the squawk
# parity table with one row per squawk rule (38).
run 0 lint --format sarif --fail-on never seed.sql
for id in $(jq -r '.runs[0].tool.driver.rules[].id' out.txt); do
    entry=$(awk -v h="#### \`$id\`" '$0 == h {on = 1; next} on && /^#/ {exit} on {print}' "$docs")
    [[ -n $entry ]] || { fail "docs/lint.md has no entry for rule $id"; continue; }
    grep -q '^-- bad' <<<"$entry" && grep -q '^-- good' <<<"$entry" ||
        fail "docs/lint.md: rule $id lacks a bad or a good example"
done
# ... and each entry's examples do what they say: the bad one fires the rule, the good one
# does not (linted against the differential seed's schema, the opt-in rule turned on).
seed_schema=$(dirname "$docs")/../tests/differential/seed.sql
printf '[lint]\nunqualified-table = warning\n' >examples.ini
for id in $(jq -r '.runs[0].tool.driver.rules[].id' out.txt); do
    awk -v h="#### \`$id\`" '$0 == h {on = 1; next} on && /^#/ {exit} on {print}' "$docs" |
        awk '/^```sql/ {in_sql = 1; next} /^```/ {in_sql = 0} in_sql && /^-- bad/ {out = "bad.sql"; printf "" > out; next}
             in_sql && /^-- good/ {out = "good.sql"; printf "" > out; next} in_sql && out {print > out}'
    for kind in bad good; do
        want=$([[ $kind == bad ]] && echo true || echo false)
        "$convoy" lint --config examples.ini --schema "$seed_schema" --format json --fail-on never \
            "$kind.sql" >ex.json 2>ex.err
        got=$(jq --arg id "$id" '[.files[].findings[] | select(.rule == $id)] | length > 0' ex.json 2>/dev/null)
        [[ $got == "$want" ]] ||
            fail "docs/lint.md: the $kind example of $id $([[ $want == true ]] && echo "does not fire it" || echo "fires it"): $(cat "$kind.sql") $(cat ex.err)"
    done
    rm -f bad.sql good.sql
done
rows=$(awk '/^\| squawk rule \| convoy \| precision/ {on = 1; next} on && /^$/ {exit} on && /^\| `/ {n++} END {print n + 0}' "$docs")
[[ $rows == 38 ]] || fail "docs/lint.md squawk parity table has $rows rows, expected 38"

if ((failures > 0)); then
    echo "$failures failure(s)" >&2
    exit 1
fi
echo "lint CLI: all checks passed"
