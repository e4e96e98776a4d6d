#!/usr/bin/env bash
# The sanitizer layer of `make test`: the unit tests, and the end-to-end
# tests of what clients send and of the proxy's paths (framing, JSON,
# inspection, streams, proxying, failover, reload, audit failure, origins),
# run again on the ASan+UBSan build in build/san (`make SAN=1`, which
# `make test` builds), LeakSanitizer on at exit. A sanitizer report fails
# the binary or the test that made it (gw_lib reads sluiced's log).
# The e2e tests bound by rates and clocks (limits, keys, suspensions, XDP
# rates) stay out: ASan's slowdown moves them. `make test SAN=1` runs every
# layer on the sanitizer build.
# TAP: a line per unit binary, and each e2e check again, named "san: ...".
set -u
cd "$(dirname "$0")/../.." || exit 1
S=$PWD/build/san
E2E="gw_framing gw_badjson gw_inspect gw_stream gw_proxy gw_failover gw_reload gw_auditfail gw_origin"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
export SLUICE_TIKTOKEN_DIR=${SLUICE_TIKTOKEN_DIR:-$PWD/build/share/tiktoken}
REPORT='ERROR: (Address|Leak)Sanitizer|runtime error:'

if ! [ -x "$S/sluiced" ]; then
	echo "not ok - san: $S/sluiced is not built (make SAN=1 unit-bins)"
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

for b in "$S"/tests/test_*; do
	[ -f "$b" ] && [ -x "$b" ] || continue
	name=${b##*/}
	timeout 300 "$b" >"$tmp/$name.log" 2>&1
	rc=$?
	passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$tmp/$name.log")
	if [ $rc = 0 ] && [ -n "$passed" ] && ! grep -qE "$REPORT" "$tmp/$name.log"; then
		echo "ok - san: $name ($passed cases)"
	else
		failed=1
		echo "not ok - san: $name (exit $rc)"
		grep -E -m 8 "$REPORT|^\[  (FAILED|ERROR) |SUMMARY:" "$tmp/$name.log" | sed 's/^/#   /'
	fi
done

for t in $E2E; do
	SLUICE_BUILD=$S timeout 600 bash "tests/e2e/$t.sh" >"$tmp/$t.log" 2>&1
	rc=$?
	sed -n -e 's/^ok - /ok - san: /p' -e 's/^not ok - /not ok - san: /p' "$tmp/$t.log"
	if [ $rc != 0 ]; then
		failed=1
		grep -q '^not ok ' "$tmp/$t.log" || echo "not ok - san: $t exited $rc"
		tail -n 30 "$tmp/$t.log" | grep -v '^ok ' | sed 's/^/#   /'
	fi
done
exit $failed
