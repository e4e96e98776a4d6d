#!/usr/bin/env bash
# Shared by tests/cli/*.sh (sourced): sluicectl at hand, a temp dir and a
# private pin root removed on exit, and the TAP helpers. Run directly by
# tests/run.sh, it only checks that it loads.
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
CTL=${SLUICE_BUILD:-build}/sluicectl
tmp=$(mktemp -d)
export SLUICE_PIN_ROOT=/sys/fs/bpf/sluice-cli-$(basename "$0" .sh)-$$
trap 'rm -rf "$tmp" "$SLUICE_PIN_ROOT"' EXIT
root=false
[ "$(id -u)" = 0 ] && root=true

ntests=0
# report NAME [WHY]: "ok" when WHY is empty, else "not ok" and the details.
report() {
	ntests=$((ntests + 1))
	if [ -z "${2:-}" ]; then
		echo "ok - $1"
		return
	fi
	echo "not ok - $1"
	printf '%s\n' "$2" | sed 's/^/#   /'
	if [ -s "$tmp/err" ]; then
		echo "#   stderr:"
		sed 's/^/#     /' "$tmp/err" | head -20
	fi
}

# because TEXT: one more reason the current test fails.
because() {
	why="${why:+$why; }$1"
}

# run ARGS...: sluicectl's exit status in $rc, output in $tmp/out and $tmp/err.
run() {
	"$CTL" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	[ -x "$CTL" ] && echo "ok - cli lib: sluicectl is built" || echo "not ok - cli lib: $CTL missing"
fi
