#!/usr/bin/env bash
# squawk_compare.sh: run squawk (the PostgreSQL migration linter) on every file of the
# differential corpus and set what it flags beside what convoy does with the same file,
# taken from `convoy plan FILE --offline --json` (no database, no server).
#
# Usage: tests/differential/squawk_compare.sh [-l] [-o REPORT.md] [FILE...]
#   FILE      corpus files (default: tests/differential/corpus/*.sql)
#   -o FILE   write the Markdown report there instead of stdout
#   -l        lint mode: squawk beside `convoy lint` (counts per rule, docs/lint.md) instead of
#             `convoy plan`; see the lint mode section below
# Environment:
#   CONVOY_BIN          the convoy binary (default: coordinator/convoy of $BUILD_DIR, build/ or
#                       build-diff/ of the checkout; it is never built here)
#   SQUAWK_PG_VERSION   passed to squawk --pg-version (default 15, the version convoy's offline
#                       plans assume)
#
# The report has one row per file that squawk flags, the rules seen, and the key check: no
# file that squawk flags is applied by convoy in a dangerous way, i.e. no step of a plan that
# convoy would apply (exit 0) has
#   - rewrites: true, or
#   - scans: true while holding SHARE or a stronger lock (SHARE, SHARE ROW EXCLUSIVE,
#     EXCLUSIVE, ACCESS EXCLUSIVE), or
#   - kind "validate" under such a lock.
# One such step is reviewed rather than counted: REFRESH MATERIALIZED VIEW CONCURRENTLY holds
# EXCLUSIVE on the view, which every reader's ACCESS SHARE passes and no write can need (a
# materialized view takes no DML); it is still listed.
# Because convoy's own flags are what that check reads, an audit also matches each applied
# step's SQL against the statement forms that scan or rewrite in PostgreSQL and lists every
# step whose plan says it does not.
#
# Exit status: 0 when the key check holds (or when squawk, jq or convoy is missing: skipped
# with a message), 1 when a dangerous step or an audit finding is reported, 2 on a usage or
# tool error.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
out=""
mode=plan

while getopts "lo:h" opt; do
    case "$opt" in
    l) mode=lint ;;
    o) out=$OPTARG ;;
    h)
        sed -n '2,33p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))

skip() {
    echo "SKIP: $*" >&2
    # lint mode runs as a ctest test: 77 is a skip there, unless skipping is not allowed
    if [[ $mode == lint ]]; then
        [[ -n ${CONVOY_TEST_NO_SKIP:-} ]] && {
            echo "CONVOY_TEST_NO_SKIP is set: failing instead of skipping" >&2
            exit 1
        }
        exit 77
    fi
    exit 0
}

command -v squawk >/dev/null 2>&1 || skip "squawk is not installed (npm install -g squawk-cli)"
command -v jq >/dev/null 2>&1 || skip "jq is not installed (apt-get install jq)"

convoy=${CONVOY_BIN:-}
if [[ -z $convoy ]]; then
    for d in "${BUILD_DIR:-}" "$root/build" "$root/build-diff"; do
        if [[ -n $d && -x $d/coordinator/convoy ]]; then
            convoy=$d/coordinator/convoy
            break
        fi
    done
fi
[[ -n $convoy && -x $convoy ]] || skip "no convoy binary (set CONVOY_BIN or build the project first)"

pgv=${SQUAWK_PG_VERSION:-15}

# squawk once over the files (it starts through node: one process, not one per file) into
# $tmp/squawk.json; its exit 1 only means it found something.
run_squawk() {
    local sq=0
    squawk --pg-version="$pgv" --reporter json "$@" >"$tmp/squawk.json" 2>"$tmp/squawk.err" || sq=$?
    if ((sq > 1)) || ! jq -e 'type == "array"' "$tmp/squawk.json" >/dev/null 2>&1; then
        echo "squawk failed (exit $sq): $(head -c 400 "$tmp/squawk.err")" >&2
        exit 2
    fi
}

# ---------------------------------------------------------------------------- lint mode
# squawk and `convoy lint --schema seed.sql --format json` (no database) over the same files: per squawk
# rule, the convoy rules that answer it (convoy's own rule table, read from its SARIF output)
# and what each said on those files; per convoy rule, its counts. Then the check: on every
# fast-default and binary-coercible case squawk flags (tests/lint/squawk_cases/*.sql and the
# corpus files listed in tests/lint/squawk_cases/corpus.txt), squawk flags it and convoy gives
# no finding of the rules that answer squawk's (for the case files: no finding at all).
# Exit 0 when the check holds, 1 when it does not, 77 when squawk or jq is missing (1 with
# CONVOY_TEST_NO_SKIP set).
if [[ $mode == lint ]]; then
    cases=$root/tests/lint/squawk_cases
    files=()
    if (($# > 0)); then
        files=("$@")
    else
        shopt -s nullglob
        files=("$here"/corpus/*.sql)
        shopt -u nullglob
    fi
    case_files=("$cases"/*.sql)
    corpus_cases=()
    while read -r f; do
        [[ -z $f || $f == \#* ]] && continue
        corpus_cases+=("$here/corpus/$f")
    done <"$cases/corpus.txt"
    all=("${files[@]}" "${case_files[@]}")
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    run_squawk "${all[@]}"
    # A file convoy cannot parse is reported on stderr (exit 1) and left out of the JSON.
    "$convoy" lint --schema "$here/seed.sql" --format json --fail-on never "${all[@]}" \
        >"$tmp/lint.json" 2>"$tmp/lint.err" || true
    jq -e '.files' "$tmp/lint.json" >/dev/null || {
        echo "convoy lint gave no JSON: $(head -c 400 "$tmp/lint.err")" >&2
        exit 2
    }
    "$convoy" lint --format sarif --fail-on never "${case_files[0]}" >"$tmp/sarif.json"
    squawk_version=$(squawk --version 2>/dev/null | head -n 1)
    convoy_version=$("$convoy" --version 2>/dev/null | head -n 1 || true)
    commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
    printf '%s\n' "${files[@]}" >"$tmp/corpus.txt"
    printf '%s\n' "${case_files[@]}" >"$tmp/cases.txt"
    printf '%s\n' "${corpus_cases[@]}" >"$tmp/corpus_cases.txt"
    jq -r -n --arg sqv "$squawk_version" --arg cv "$convoy_version" --arg commit "$commit" \
        --arg pgv "$pgv" --arg root "$root/" \
        --rawfile corpus "$tmp/corpus.txt" --rawfile cases "$tmp/cases.txt" \
        --rawfile ccases "$tmp/corpus_cases.txt" \
        --slurpfile sq "$tmp/squawk.json" --slurpfile lint "$tmp/lint.json" \
        --slurpfile sarif "$tmp/sarif.json" '
def lines: split("\n") | map(select(length > 0));
def rel: ltrimstr($root);
# the squawk rules convoy answers with its own behaviour, not with a finding
def behaviour: {
  "require-lock-timeout": "convoy runs every lock-taking step under its own lock_timeout (50 ms) with bounded jittered retries",
  "require-statement-timeout": "convoy runs every step that does not scan under its own statement_timeout (15 s)",
  "prefer-robust-stmts": "convoy records each step and resumes where it stopped; IF [NOT] EXISTS keeps its meaning",
  "require-timeout-settings": "the two rules above (squawk alias)"};
($corpus | lines) as $cfiles | ($cases | lines) as $kfiles | ($ccases | lines) as $ckfiles
| [$sarif[0].runs[0].tool.driver.rules[] | {id, squawk: (.properties.squawk | split(", ") | map(select(length > 0)))}] as $crules
| ($lint[0].files | map({key: .file, value: .findings}) | from_entries) as $byfile
| [$sq[0][] | select(.file as $f | $cfiles | index($f))] as $sqc
| [$cfiles[] as $f | ($byfile[$f] // [])[] | . + {file: $f}] as $lc
| ([$sqc[].rule_name] + [$crules[].squawk[]] + (behaviour | keys) | unique) as $srules
| def answering($r): [$crules[] | select(.squawk | index($r)) | .id];
  def sev($fs): "\($fs | map(select(.severity == "error")) | length) / \($fs | map(select(.severity == "warning")) | length) / \($fs | map(select(.severity == "info")) | length)";
  def check($f; $strict):
    ([$sq[0][] | select(.file == $f) | .rule_name] | unique) as $sr
    | ($sr | map(select(. as $x | ["adding-field-with-default", "changing-column-type", "prefer-text-field"] | index($x)))) as $fp
    | ([$fp[] as $r | answering($r)[]] | unique) as $ans
    | (($byfile[$f] // []) | map(.rule)) as $cr
    | ($cr | map(select(. as $x | $ans | index($x)))) as $bad
    | {file: ($f | rel), squawk: $fp, convoy: $cr,
       ok: (($fp | length) > 0 and ($bad | length) == 0 and (($strict | not) or ($cr | length) == 0)),
       why: (if ($fp | length) == 0 then "squawk does not flag it"
             elif ($bad | length) > 0 then "convoy: \($bad | join(", "))"
             elif $strict and ($cr | length) > 0 then "convoy: \($cr | join(", "))"
             else "" end)};
  ([$kfiles[] | check(.; true)] + [$ckfiles[] | check(.; false)]) as $checks
| ($checks | map(select(.ok | not))) as $failed
| (
  "<!-- generated by tests/differential/squawk_compare.sh -l -->",
  "",
  "Generated at commit \($commit) with \($sqv) (`--pg-version=\($pgv)`, default rules) and `convoy lint --schema tests/differential/seed.sql --format json` (\($cv)) on \($cfiles | length) corpus files.",
  "",
  "### Per squawk rule",
  "",
  "| squawk rule | squawk findings / files | convoy answer | convoy findings of those rules on the corpus (error / warning / info) |",
  "|---|---|---|---|",
  ($srules[] as $r
   | [$sqc[] | select(.rule_name == $r)] as $hits
   | answering($r) as $ids
   | "| `\($r)` | \($hits | length) / \([$hits[].file] | unique | length) | \(if ($ids | length) > 0 then ($ids | map("`\(.)`") | join(", ")) else (behaviour[$r] // "none") end) | \(if ($ids | length) > 0 then sev([$lc[] | select(.rule as $x | $ids | index($x))]) else "no finding (convoy behaviour)" end) |"),
  "",
  "### Per convoy rule",
  "",
  "| convoy rule | squawk rules it answers | findings | files | error | warning | info |",
  "|---|---|---|---|---|---|---|",
  ($crules[] as $c
   | [$lc[] | select(.rule == $c.id)] as $fs
   | select(($fs | length) > 0 or ($c.squawk | length) > 0)
   | "| `\($c.id)` | \($c.squawk | join(", ")) | \($fs | length) | \([$fs[].file] | unique | length) | \($fs | map(select(.severity == "error")) | length) | \($fs | map(select(.severity == "warning")) | length) | \($fs | map(select(.severity == "info")) | length) |"),
  "",
  "Totals on the corpus: squawk \($sqc | length) findings in \([$sqc[].file] | unique | length) files; convoy \($lc | length) findings in \([$lc[].file] | unique | length) files (\($lc | map(select(.severity == "error")) | length) errors, \($lc | map(select(.severity == "warning")) | length) warnings, \($lc | map(select(.severity == "info")) | length) info).",
  "",
  "### Fast defaults and binary-coercible changes",
  "",
  "| file | squawk flags | convoy lint | holds |",
  "|---|---|---|---|",
  ($checks[] | "| `\(.file)` | \(.squawk | map("`\(.)`") | join(", ")) | \(if (.convoy | length) == 0 then "no finding" else (.convoy | map("`\(.)`") | join(", ")) end) | \(if .ok then "yes" else "**NO**: \(.why)" end) |"),
  "",
  "RESULT: \($checks | length) fast-default/binary-coercible cases, squawk flags \($checks | map(select((.squawk | length) > 0)) | length), convoy false positives: \($failed | length)"
)' >"$tmp/report.md"
    if [[ -n $out ]]; then
        cp "$tmp/report.md" "$out"
    else
        cat "$tmp/report.md"
    fi
    result=$(grep '^RESULT:' "$tmp/report.md")
    echo "$result" >&2
    [[ $result =~ convoy\ false\ positives:\ 0$ ]] && [[ $result =~ cases,\ squawk\ flags\ ([0-9]+) ]] &&
        [[ $result == *"RESULT: ${BASH_REMATCH[1]} "* ]] && exit 0
    exit 1
fi

files=()
if (($# > 0)); then
    for f in "$@"; do
        if [[ -f $f ]]; then
            files+=("$f")
        elif [[ -f $here/corpus/$f ]]; then
            files+=("$here/corpus/$f")
        elif [[ -f $here/corpus/$f.sql ]]; then
            files+=("$here/corpus/$f.sql")
        else
            echo "no such corpus file: $f" >&2
            exit 2
        fi
    done
else
    shopt -s nullglob
    files=("$here"/corpus/*.sql)
    shopt -u nullglob
fi
((${#files[@]} > 0)) || {
    echo "no corpus files" >&2
    exit 2
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run_squawk "${files[@]}"

# Per file: convoy's plan and exit code, and the header's expect line.
mkdir -p "$tmp/plan"
: >"$tmp/meta.tsv"
i=0
for f in "${files[@]}"; do
    name=$(basename "$f")
    i=$((i + 1))
    printf -v key '%05d' "$i"
    rc=0
    "$convoy" plan "$f" --offline --json >"$tmp/plan/$key.json" 2>"$tmp/plan.err" || rc=$?
    if [[ $(head -c 1 "$tmp/plan/$key.json") != "{" ]]; then
        echo '{"steps":[],"warnings":[],"refusals":[],"errors":[{"message":"no JSON plan"}]}' >"$tmp/plan/$key.json"
    fi
    expect=$(grep -m 1 '^-- expect:' "$f" || true)
    expect=${expect#-- expect:}
    expect=${expect# }
    printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$f" "${expect//$'\t'/ }" >>"$tmp/meta.tsv"
done

squawk_version=$(squawk --version 2>/dev/null | head -n 1)
convoy_version=$("$convoy" --version 2>/dev/null | head -n 1 || true)
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)

# The analysis and the report, in jq.
jq -r --arg sqv "$squawk_version" --arg cv "$convoy_version" --arg commit "$commit" \
    --arg pgv "$pgv" --arg convoy "${convoy#"$root"/}" --rawfile meta "$tmp/meta.tsv" \
    --slurpfile sq "$tmp/squawk.json" --slurpfile plans <(jq -s . "$tmp"/plan/*.json) -n '
def strong: ["SHARE", "SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE"];
def modes: [.locks[]?.mode];
def is_strong: any(modes[]; . as $m | strong | index($m));
def up: (.sql // "") | ascii_upcase | gsub("\\s+"; " ");
def norm: ascii_downcase | gsub("\""; "");
def esc: gsub("\\|"; "\\|") | gsub("\n"; " ");
# rules that fire on almost every statement: listed last
def ubiquitous: ["require-lock-timeout", "require-statement-timeout", "prefer-robust-stmts"];

# A short name for one convoy step.
def steplabel:
  up as $u | (.summary // "") as $sum
  | (if .kind == "index" then
       (if ($u | test("^CREATE UNIQUE")) then "CREATE UNIQUE INDEX CONCURRENTLY" else "CREATE INDEX CONCURRENTLY" end)
     elif .kind == "drop_index" then "DROP INDEX CONCURRENTLY"
     elif .kind == "validate" then "VALIDATE"
     elif .kind == "precheck" then "read-only pre-check"
     elif .kind == "backfill" then
       (if ($u | test("^ *DELETE")) then "batched DELETE" else "batched UPDATE" end)
     elif .kind == "ddl" then
       (if ($u | test("FOREIGN KEY")) and ($u | test("NOT VALID")) then "FK NOT VALID"
        elif ($u | test("NOT VALID")) then "CHECK NOT VALID"
        elif ($u | test("SET NOT NULL")) then "SET NOT NULL (proved by the validated check)"
        elif ($u | test("USING INDEX")) then "ADD CONSTRAINT … USING INDEX"
        elif ($u | test("ADD COLUMN")) then
          (if ((.summary // "") | test("fast default")) then "ADD COLUMN (fast default)" else "ADD COLUMN" end)
        elif ($u | test("DROP CONSTRAINT")) then "DROP CONSTRAINT"
        elif ($u | test("(SET|DROP) DEFAULT")) then "SET/DROP DEFAULT"
        elif ($u | test("DROP NOT NULL")) then "DROP NOT NULL"
        else (.summary // .kind) end)
     else
       (if ((.summary // "") | test("contract change")) then "contract: " else "" end)
       + ([
           ["^ALTER INDEX .*ATTACH PARTITION", "ALTER INDEX … ATTACH PARTITION"],
           ["^ALTER TABLE .*ATTACH PARTITION", "ATTACH PARTITION"],
           ["^ALTER DEFAULT PRIVILEGES", "ALTER DEFAULT PRIVILEGES"],
           ["^ALTER TABLE .*ROW LEVEL SECURITY", "ROW LEVEL SECURITY"],
           ["^ALTER TABLE .*REPLICA IDENTITY", "REPLICA IDENTITY"],
           ["^CREATE POLICY", "CREATE POLICY"],
           ["^ALTER TABLE .*DETACH PARTITION .*CONCURRENTLY", "DETACH PARTITION CONCURRENTLY"],
           ["^CREATE TABLE .*PARTITION OF", "CREATE TABLE … PARTITION OF"],
           ["^REFRESH MATERIALIZED VIEW CONCURRENTLY", "REFRESH MATERIALIZED VIEW CONCURRENTLY"],
           ["^REINDEX .*CONCURRENTLY", "REINDEX CONCURRENTLY"],
           ["^ALTER TYPE .*ADD VALUE", "ALTER TYPE … ADD VALUE"],
           ["^ALTER TABLE .*SET STATISTICS", "SET STATISTICS"],
           ["^ALTER TABLE .* SET \\(", "ALTER TABLE … SET (storage options)"],
           ["^ALTER [A-Z]+ .*RENAME ", (($u | capture("^(?<k>[A-Z]+ [A-Z]+)")).k // "") + " … RENAME"],
           ["^ALTER TABLE .* DROP (COLUMN )?", "DROP COLUMN"],
           ["^DROP TABLE", "DROP TABLE"],
           ["^CREATE (OR REPLACE )?(UNIQUE )?INDEX", "CREATE INDEX"],
           ["^(ALTER TABLE|ALTER TABLE IF EXISTS) .*ADD CONSTRAINT", "ADD CONSTRAINT"],
           ["^CREATE (OR REPLACE )?[A-Z]+", (($u | capture("^(?<k>CREATE (OR REPLACE )?[A-Z]+( VIEW)?)")).k)],
           ["^(INSERT|UPDATE|DELETE|GRANT|REVOKE|COMMENT|ANALYZE|VACUUM|DO|SELECT)", (($u | capture("^(?<k>[A-Z]+)")).k)]
         ] | map(select(. as $p | $u | test($p[0]))) | (.[0][1] // ($sum | .[0:60])))
       + (if ((.summary // "") | test("created (earlier )?in this migration")) then " (new table)" else "" end)
     end)
  + (if .kind != "backfill" and .kind != "precheck" and (modes | index("ACCESS EXCLUSIVE")) and (.scans | not)
     then " [brief ACCESS EXCLUSIVE]" else "" end);

# "A → B → 3× C": consecutive equal labels folded.
def fold:
  reduce .[] as $l ([]; if length > 0 and .[-1][0] == $l then .[-1][1] += 1 else . + [[$l, 1]] end)
  | map(if .[1] > 1 then "\(.[1])× \(.[0])" else .[0] end) | join(" → ");

def refused: (.plan.refusals // []) | length > 0;
def applied: .rc == 0 and (refused | not) and (((.plan.errors // []) | length) == 0);

def matview_ok: (up | test("^REFRESH MATERIALIZED VIEW CONCURRENTLY")) and all(modes[]; . as $m | (strong | index($m) | not) or $m == "EXCLUSIVE");

# What makes a step dangerous, in convoy'"'"'s own terms.
def danger:
  [ (if .rewrites then "rewrites the table" else empty end),
    (if .scans and is_strong then "scans under \(modes | map(select(. as $m | strong | index($m))) | unique | join("+"))" else empty end),
    (if .kind == "validate" and is_strong then "validates under \(modes | join("+"))" else empty end) ];

# Statement forms that scan or rewrite in PostgreSQL, for steps whose plan says scans: false.
def created($steps):
  [$steps[] | up | capture("^CREATE (UNLOGGED )?TABLE (IF NOT EXISTS )?(?<t>[^ (]+)")? | .t | norm];
def domains($steps):
  [$steps[] | up | capture("^CREATE DOMAIN (?<d>[^ ]+) .*(CHECK|NOT NULL)")? | .d | norm | split(".")[-1]];
def last_name: norm | split(".")[-1];
def audit($new; $validated; $domains):
  . as $s | up as $u | ((.locks[0].table // "") | norm) as $t0
  | ([$u | capture("ADD COLUMN (IF NOT EXISTS )?(\"[^\"]+\"|[^ ]+) (?<t>[^ ,;(]+)")? | .t | last_name][0] // "") as $coltype
  | ([.locks[]?.table | norm] | length > 0 and all(. as $t | $new | index($t))) as $on_new
  | if .scans or .rewrites then empty else
    [ (if ($u | test("PARTITION OF")) then "CREATE TABLE … PARTITION OF holds ACCESS EXCLUSIVE on the parent and, when the parent has a DEFAULT partition, scans it under that lock; the plan lists neither that lock nor a scan" else empty end),
      (if ($u | test("^ALTER TABLE .*ATTACH PARTITION")) then "ATTACH PARTITION holds ACCESS EXCLUSIVE on the attached table and on the parent'"'"'s DEFAULT partition, if any, and scans each unless a CHECK constraint on it makes the scan unnecessary; the plan lists neither that lock nor a scan" else empty end),
      (if ($on_new | not) and ($u | test("ALTER COLUMN [^ ]+ (SET DATA )?TYPE")) then "type change may rewrite" else empty end),
      (if ($on_new | not) and ($u | test("SET NOT NULL")) and (($validated | index($t0)) | not) then "SET NOT NULL without an earlier validated check scans" else empty end),
      (if ($on_new | not) and ($u | test("ADD (CONSTRAINT [^ ]+ )?(CHECK|FOREIGN KEY)")) and ($u | test("NOT VALID") | not) then "constraint added without NOT VALID scans" else empty end),
      (if ($on_new | not) and ($u | test("^CREATE (UNIQUE )?INDEX")) and ($u | test("CONCURRENTLY") | not) then "CREATE INDEX without CONCURRENTLY holds SHARE while it builds" else empty end),
      (if ($on_new | not) and ($u | test("ADD (CONSTRAINT [^ ]+ )?(PRIMARY KEY|UNIQUE)")) and ($u | test("USING INDEX") | not) then "PRIMARY KEY/UNIQUE without USING INDEX builds an index under a strong lock" else empty end),
      (if ($on_new | not) and ($u | test("VACUUM FULL|^CLUSTER|SET (UN)?LOGGED|SET TABLESPACE|SET ACCESS METHOD|^REFRESH MATERIALIZED VIEW (?!CONCURRENTLY)|^REINDEX (?!.*CONCURRENTLY)")) then "rewrites or rebuilds under ACCESS EXCLUSIVE" else empty end),
      (if ($on_new | not) and $coltype != "" and ($domains | index($coltype)) then "column of a domain with constraints: PostgreSQL rewrites the table under ACCESS EXCLUSIVE to check every row" else empty end),
      (if ($on_new | not) and ($u | test("ADD COLUMN")) and ($u | test("GENERATED ALWAYS AS .*STORED| (BIG|SMALL)?SERIAL|DEFAULT .*(RANDOM|GEN_RANDOM_UUID|UUID_GENERATE|CLOCK_TIMESTAMP|NEXTVAL)\\(")) then "ADD COLUMN with a volatile or stored value rewrites" else empty end)
    ] | map({sql: ($s.sql | gsub("\\s+"; " ") | .[0:120]), why: .}) | .[] end;

[$meta | split("\n")[] | select(length > 0) | split("\t")
 | {file: .[0], rc: (.[1] | tonumber), path: .[2], expect: (.[3] // "")}]
| [to_entries[] | .value as $v | $v + {squawk: [$sq[0][] | select(.file == $v.path)], plan: $plans[0][.key]}]
| map(. as $r
  | ($r.plan.steps // []) as $steps
  | created($steps) as $new
  | ([$steps[] | select(.kind == "validate") | .locks[0].table | norm]) as $validated
  | $r + {
      rules: ([$r.squawk[].rule_name] | group_by(.) | map({rule: .[0], n: length})
              | sort_by((.rule as $x | ubiquitous | index($x)) // -1, .rule)),
      labels: ([$steps[] | steplabel] | fold),
      hits: [ $steps[] | . as $s | danger | select(length > 0)
              | {sql: ($s.sql | gsub("\\s+"; " ") | .[0:120]), why: join(", "), reviewed: ($s | matview_ok)} ],
      findings: (if ($r | applied) then [$steps[] | audit($new; $validated; domains($steps))] else [] end),
      scanmodes: ([$steps[] | select(.scans) | modes[]] | unique),
      strong_nonscan: ([$steps[] | select((.scans | not) and is_strong)] | length)
    })
| . as $all
| map(select((.rules | length) > 0)) as $flagged
| ($flagged | map(select(applied))) as $fapplied
| ($fapplied | map(.hits[] | select(.reviewed | not))) as $bad
| ($fapplied | map(.hits[] | select(.reviewed))) as $reviewed
| ($flagged | map(select(applied | not) | .hits[])) as $notrun
| ($all | map(select(applied) | . as $r | .findings[] | . + {file: $r.file, flagged: (($r.rules | length) > 0)})) as $findings
| ([$all[].squawk[].rule_name] | unique) as $rules
| (
  "<!-- generated by tests/differential/squawk_compare.sh -->",
  "",
  "Generated at commit \($commit) with \($sqv) (`--pg-version=\($pgv)`) and `\($convoy) plan FILE --offline --json` (\($cv)).",
  "",
  "## Counts",
  "",
  "| what | count |",
  "|---|---|",
  "| corpus files | \($all | length) |",
  "| files squawk flags (at least one finding) | \($flagged | length) |",
  "| files squawk does not flag | \($all | map(select((.rules | length) == 0)) | length) |",
  "| squawk findings | \([$all[].squawk[]] | length) |",
  "| distinct squawk rules seen | \($rules | length) |",
  "| flagged files convoy applies (offline plan, exit 0) | \($fapplied | length) |",
  "| flagged files convoy refuses (exit 3, nothing applied) | \($flagged | map(select(refused)) | length) |",
  "| flagged files with a plan error | \($flagged | map(select((applied | not) and (refused | not))) | length) |",
  "| **key check: dangerous steps in applied plans of flagged files** | **\($bad | length)** |",
  "| reviewed, not dangerous (REFRESH MATERIALIZED VIEW CONCURRENTLY: EXCLUSIVE on the view) | \($reviewed | length) |",
  "| dangerous steps in plans convoy refuses (never run) | \($notrun | length) |",
  "| audit: applied steps whose SQL scans or rewrites although the plan says it does not | \($findings | length) (\($findings | map(select(.flagged)) | length) in flagged files) |",
  "",
  "## Key check",
  "",
  (if ($bad | length) == 0
   then "**Holds.** Of the \($flagged | length) files squawk flags, convoy applies \($fapplied | length); none of their steps rewrites a table, scans while holding SHARE or a stronger lock, or validates under such a lock."
   else "**FAILS: \($bad | length) dangerous step(s), convoy bugs:**" end),
  ($fapplied[] | . as $r | .hits[] | select(.reviewed | not) | "- **BUG** `\($r.file)`: \(.why): `\(.sql | esc)`"),
  ($fapplied[] | . as $r | .hits[] | select(.reviewed) | "- reviewed, not counted: `\($r.file)`: \(.why): `\(.sql | esc)` (EXCLUSIVE lets every reader through; a materialized view takes no writes)"),
  "",
  "### Audit of the plans'"'"' own flags",
  "",
  (if ($findings | length) == 0 then "No applied step matches a statement form that scans or rewrites."
   else "Applied steps whose SQL can scan or rewrite in PostgreSQL although the plan says `scans: false, rewrites: false`:" end),
  ($findings[] | "- `\(.file)`\(if .flagged then "" else " (not flagged by squawk)" end): \(.why): `\(.sql | esc)`"),
  "",
  "## Per file",
  "",
  "Files squawk flags; `expect` is the corpus header (against the seed, with a database); convoy'"'"'s column is its offline plan. Steps are joined by →; *brief ACCESS EXCLUSIVE* is a metadata-only step run under lock_timeout with retries.",
  "",
  "| file | expect | squawk rules (findings) | what convoy does (offline plan) | dangerous under convoy? |",
  "|---|---|---|---|---|",
  ($flagged[] |
    "| `\(.file)` | \((.expect | split(";")[0]) // "" | esc) | \(.rules | map("`\(.rule)`" + (if .n > 1 then "×\(.n)" else "" end)) | join(", ")) | " +
    (if refused then "**refuses**: \(.plan.refusals[0].message | esc)" + (if (.plan.refusals | length) > 1 then " (+\((.plan.refusals | length) - 1) more)" else "" end)
     elif applied then "runs as: \(.labels | esc)"
     else "plan error: \((.plan.errors[0].message // "exit \(.rc)") | esc)" end) + " | " +
    (if (applied | not) then (if refused then "no: refused, nothing is applied" else "no: nothing is applied" end)
     elif (.hits | map(select(.reviewed | not)) | length) > 0 then "**YES**: \(.hits | map(select(.reviewed | not) | .why) | join("; "))"
     elif (.findings | length) > 0 then "**at risk** (audit, the plan says no scan): \(.findings | map(.why) | join("; "))"
     elif (.hits | length) > 0 then "no (reviewed): EXCLUSIVE on the materialized view only; readers continue"
     else "no: no rewrite" +
       (if (.scanmodes | length) > 0 then "; scans only under \(.scanmodes | join(", "))" else "; no scan" end) +
       (if .strong_nonscan > 0 then "; strong locks only on \(.strong_nonscan) non-scanning step(s)" else "" end)
     end) + " |"),
  "",
  "## Per squawk rule",
  "",
  "| rule | findings | files | convoy applies | convoy refuses | dangerous steps applied |",
  "|---|---|---|---|---|---|",
  ($rules[] as $rule
   | ($flagged | map(select(any(.rules[]; .rule == $rule)))) as $fs
   | "| `\($rule)` | \([$all[].squawk[] | select(.rule_name == $rule)] | length) | \($fs | length) | \($fs | map(select(applied)) | length) | \($fs | map(select(refused)) | length) | \($fs | map(select(applied) | .hits[] | select(.reviewed | not)) | length) |"),
  "",
  "## Files squawk does not flag",
  "",
  ($all | map(select((.rules | length) == 0) | "`\(.file)`") | if length == 0 then "none" else join(", ") end),
  "",
  "RESULT: \($all | length) files, \($flagged | length) flagged by squawk, \($rules | length) rules; dangerous steps applied: \($bad | length); audit findings: \($findings | length)"
)
' "$tmp/records.jsonl" >"$tmp/report.md"

if [[ -n $out ]]; then
    cp "$tmp/report.md" "$out"
else
    cat "$tmp/report.md"
fi
result=$(grep '^RESULT:' "$tmp/report.md")
echo "$result" >&2
if [[ $result =~ dangerous\ steps\ applied:\ 0\;\ audit\ findings:\ 0$ ]]; then
    exit 0
fi
exit 1
