#!/usr/bin/env bash
# test_window.sh (ctest rehearse_window): issue 9, must-show 3. A high-risk migration (a
# rehearsal measured 80: `-- convoy:risk 80`) with `-- convoy:window "Sat 02:00-04:00 UTC"`:
# outside the window `convoy apply` does not start a step, holds, and says when the window
# opens (in `convoy status`, audited); stopped and applied again inside the window, it runs.
# A low-risk one runs outside its window. The clock is moved with CONVOY_NOW (test only).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_pg
cd "$tmp" || exit 1
psql -X -q -v ON_ERROR_STOP=1 "$(db postgres)" -c "CREATE DATABASE app" >/dev/null || exit 1
psql -X -q -v ON_ERROR_STOP=1 "$(db app)" >/dev/null <<'SQL' || exit 1
CREATE TABLE users (id bigint PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO users (id) SELECT g FROM generate_series(1, 20000) g;
ANALYZE users;
SQL
export PGAPPNAME=test
cat >risky.sql <<'SQL'
-- convoy:window "Sat 02:00-04:00 UTC"
-- convoy:risk 80
-- convoy:backfill last_login = created_at
ALTER TABLE users ADD COLUMN last_login timestamptz;
SQL
cat >calm.sql <<'SQL'
-- convoy:window "Sat 02:00-04:00 UTC"
ALTER TABLE users ADD COLUMN nickname text;
SQL

# plan: the risk, its reasons and the window's verdict
CONVOY_NOW=2026-12-04T12:00:00Z "$convoy" plan risky.sql --db "$(db app)" >plan.txt 2>&1 ||
    fail "convoy plan exited $?: $(cat plan.txt)"
grep -q 'risk: 80/100, high' plan.txt || fail "plan does not show the risk: $(cat plan.txt)"
grep -q 'closed: it would hold until the window opens' plan.txt || fail "plan does not say it would hold: $(cat plan.txt)"
grep -q 'the window next opens Sat 2026-12-05 02:00 UTC' plan.txt || fail "plan does not say when it opens"
CONVOY_NOW=2026-12-04T12:00:00Z "$convoy" plan risky.sql --db "$(db app)" --json >plan.json 2>/dev/null
jq -e '.risk.score == 80 and .risk.level == "high" and .risk.window_open_now == false and .risk.starts_now == false' plan.json >/dev/null ||
    fail "plan --json risk: $(jq -c .risk plan.json)"

# bad input: file:line:col and the expected form
printf -- '-- convoy:window "Sat 02:00-04:00"\nSELECT 1;\n' >bad.sql
"$convoy" plan bad.sql --offline >bad.txt 2>&1 && fail "a window without a zone was accepted"
grep -q 'bad.sql:1:19: convoy:window: missing time zone' bad.txt || fail "bad window message: $(cat bad.txt)"

# 1. outside the window (Friday noon UTC): no step starts; it holds and says when it opens
CONVOY_NOW=2026-12-04T12:00:00Z "$convoy" apply risky.sql --db "$(db app)" >apply1.txt 2>&1 &
APPLY_PID=$!
held=
for _ in $(seq 1 100); do
    reason=$(q app "SELECT hold_reason FROM convoy.migrations WHERE name = 'risky'" 2>/dev/null)
    if [[ $reason == *"outside the maintenance window"* ]]; then held=$reason; break; fi
    sleep 0.1
done
[[ -n $held ]] || fail "no window hold within 10 s: $(cat apply1.txt)"
echo "hold: $held" >&2
[[ $held == *'it opens Sat 2026-12-05 02:00 UTC, in 1'[34]' h'* ]] || fail "the hold does not say when the window opens: $held"
[[ $held == *'risk 80 >= 50'* ]] || fail "the hold does not give the risk: $held"
"$convoy" status risky --db "$(db app)" >status.txt 2>&1
grep -q 'outside the maintenance window' status.txt || fail "convoy status does not show the hold: $(cat status.txt)"
[[ $(q app "SELECT count(*) FROM convoy.audit WHERE migration = 'risky' AND action = 'hold' AND detail LIKE '%maintenance window%'") -ge 1 ]] ||
    fail "the hold is not audited"
[[ $(q app "SELECT count(*) FROM convoy.steps WHERE migration = 'risky' AND status <> 'pending'") == 0 ]] ||
    fail "a step started outside the window: $(q app "SELECT n, status FROM convoy.steps WHERE migration = 'risky'")"
[[ $(q app "SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'last_login'") == 0 ]] ||
    fail "the column was added outside the window"
kill -INT "$APPLY_PID"
wait "$APPLY_PID"
rc=$?
APPLY_PID=
((rc == 7)) || fail "the held apply, interrupted, exited $rc (expected 7): $(tail -5 apply1.txt)"

# 2. inside the window (Saturday 02:30 UTC): it runs
rc=0
CONVOY_NOW=2026-12-05T02:30:00Z "$convoy" apply risky.sql --db "$(db app)" >apply2.txt 2>&1 || rc=$?
((rc == 0)) || fail "apply inside the window exited $rc: $(tail -20 apply2.txt)"
[[ $(q app "SELECT status FROM convoy.migrations WHERE name = 'risky'") == "done" ]] || fail "risky is not done"
[[ $(q app "SELECT count(*) FROM users WHERE last_login IS DISTINCT FROM created_at") == 0 ]] ||
    fail "the backfill did not run"
[[ $(q app "SELECT count(*) FROM convoy.audit WHERE migration = 'risky' AND action = 'release'") -ge 1 ]] ||
    fail "the end of the hold is not audited"

# 3. low risk (no rehearsal, 20,000 rows, metadata only): the window does not hold it
rc=0
CONVOY_NOW=2026-12-04T12:00:00Z timeout 60 "$convoy" apply calm.sql --db "$(db app)" >apply3.txt 2>&1 || rc=$?
((rc == 0)) || fail "a low-risk migration outside its window exited $rc: $(tail -5 apply3.txt)"

if ((failures > 0)); then
    KEEP=1
    exit 1
fi
echo "rehearse_window: ok"
