#!/usr/bin/env bash
# Runs every test layer and ends with one line: "N passed, N failed".
#   cmocka binaries (unit, bpf): counted from their summary lines.
#   scripts (e2e, cli, san, fuzz): TAP lines "ok - name" / "not ok - name".
# A layer that dies without a summary counts as one failure.
# Usage: tests/run.sh [PATTERN]  (runs only tests whose path matches)
set -u
cd "$(dirname "$0")/.."
B=${SLUICE_BUILD:-$PWD/build}
export SLUICE_BUILD=$B
# the token counter's rank tables, made by `make tests`, for configs that name none
export SLUICE_TIKTOKEN_DIR=${SLUICE_TIKTOKEN_DIR:-$B/share/tiktoken}
LOGS=$B/test-logs
mkdir -p "$LOGS"
only=${1:-}
pass=0
fail=0

note() { printf '%s\n' "$*"; }

run_cmocka() {
	local bin=$1 log out p f rc
	log=$LOGS/$(basename "$bin").log
	timeout 300 "$bin" >"$log" 2>&1
	rc=$?
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	grep -E '^\[  (FAILED|  OK  |ERROR) ' "$log" | grep -v '  OK  ' | sed "s|^|  $(basename "$bin"): |"
	if [ "$p" = 0 ] && [ "$f" = 0 ] || { [ $rc != 0 ] && [ "$f" = 0 ]; }; then
		f=$((f + 1))
		note "  $(basename "$bin"): exited $rc without a passing summary (see $log)"
	fi
	note "$(printf '%-28s %3d passed, %d failed' "$(basename "$bin")" "$p" "$f")"
	pass=$((pass + p))
	fail=$((fail + f))
}

run_tap() {
	local t=$1 log p f rc name
	name=${t#tests/}
	log=$LOGS/$(echo "$name" | tr / _).log
	timeout 600 bash "$t" >"$log" 2>&1
	rc=$?
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok ' "$log")
	grep '^not ok ' "$log" | sed "s|^|  $name: |"
	if [ $rc != 0 ] && [ "$f" = 0 ]; then
		f=1
		note "  $name: exited $rc (see $log)"
	fi
	note "$(printf '%-28s %3d passed, %d failed' "$name" "$p" "$f")"
	pass=$((pass + p))
	fail=$((fail + f))
}

for bin in "$B"/tests/test_*; do
	[ -x "$bin" ] || continue
	[ -n "$only" ] && [[ $bin != *$only* ]] && continue
	run_cmocka "$bin"
done
for t in tests/cli/*.sh tests/mock/test_*.sh tests/e2e/*.sh tests/san/run.sh tests/fuzz/run.sh; do
	[ -f "$t" ] || continue
	[ -n "$only" ] && [[ $t != *$only* ]] && continue
	run_tap "$t"
done

echo "$pass passed, $fail failed"
[ "$fail" = 0 ] && [ "$pass" -gt 0 ]
