#!/usr/bin/env bash
# Shared by tests/e2e/*.sh (sourced). Each test file:
#
#   . "$(dirname "$0")/lib.sh"
#   e2e_start block          # lab up under a unique prefix, private pins, trap
#   e2e_attach               # sluice on both gateway interfaces
#   ok_if "name" test ...    # TAP lines "ok - name" / "not ok - name"
#
# Isolation: SLUICE_PIN_ROOT is /sys/fs/bpf/sluice-e2e-PREFIX, and the
# EXIT trap detaches sluice, removes the namespaces and processes of the
# lab and that pin directory, whatever happened. Interface commands run
# in the gateway's network namespace through nsenter (gwctl), the rest in
# the root namespace (ctl). The plan line "1..N" comes last.
#
# Run directly (tests/run.sh does, as it runs every tests/e2e/*.sh), this
# file checks the lab itself.

E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../scripts/lab.sh
. "$E2E_ROOT/scripts/lab.sh"

E2E_COUNT=0
E2E_FAILED=0
E2E_NAME=
E2E_WATCHDOG=

diag() { printf '# %s\n' "$*"; }

ok() {
	E2E_COUNT=$((E2E_COUNT + 1))
	echo "ok - $E2E_NAME: $1"
}

not_ok() {
	E2E_COUNT=$((E2E_COUNT + 1))
	E2E_FAILED=$((E2E_FAILED + 1))
	echo "not ok - $E2E_NAME: $1"
	shift
	local l
	for l in "$@"; do
		diag "  $l"
	done
}

skip() {
	E2E_COUNT=$((E2E_COUNT + 1))
	echo "ok - $E2E_NAME: $1 # SKIP $2"
}

# ok_if NAME CMD...: passes when CMD succeeds (its stdout is dropped).
ok_if() {
	local name=$1
	shift
	if "$@" >/dev/null; then ok "$name"; else not_ok "$name" "failed: $*"; fi
}

# is NAME GOT WANT: exact equality.
is() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "got:  '$2'" "want: '$3'"; fi
}

# between NAME GOT LO HI: LO <= GOT <= HI (integers).
between() {
	if [[ $2 =~ ^[0-9]+$ ]] && [ "$2" -ge "$3" ] && [ "$2" -le "$4" ]; then
		ok "$1 ($2 in [$3, $4])"
	else
		not_ok "$1" "got: '$2'" "want: $3..$4"
	fi
}

# within NAME GOT WANT PCT: |GOT - WANT| <= PCT% of WANT.
within() {
	if awk -v g="$2" -v w="$3" -v p="$4" 'BEGIN { d = g - w; if (d < 0) d = -d; exit !(g ~ /^[0-9.]+$/ && d <= w * p / 100) }'; then
		ok "$1 ($2 vs $3, within ${4}%)"
	else
		not_ok "$1" "got: '$2'" "want: $3 +-${4}%"
	fi
}

# e2e_start NAME [WATCHDOG_S]: unique lab and pins, cleanup trap, watchdog.
e2e_start() {
	local tag
	E2E_NAME=$1
	command -v jq >/dev/null && command -v python3 >/dev/null && command -v curl >/dev/null || {
		echo "not ok - $E2E_NAME: needs jq, python3 and curl (make test-deps)"
		exit 1
	}
	# Unique per process: a letter, the pid and two random digits (<= 11 chars)
	tag=${E2E_NAME:0:1}$$$((RANDOM % 90 + 10))
	lab_init "$tag" || exit 1
	export SLUICE_PIN_ROOT=/sys/fs/bpf/sluice-e2e-$tag
	trap e2e_cleanup EXIT
	trap 'exit 130' INT TERM
	export LAB_QUIET=1
	[ -x "$SLUICECTL" ] || { not_ok "sluicectl exists" "$SLUICECTL is missing (make)"; exit 1; }
	lab_up || { not_ok "lab up"; exit 1; }
	e2e_watchdog "${2:-120}"
	diag "lab $LAB_PREFIX, pins in $SLUICE_PIN_ROOT, $(nproc) CPUs"
}

# A single background shell (no child) that ends the test if it runs away.
e2e_watchdog() {
	mkfifo "$LAB_STATE/watchdog"
	(
		read -r -t "$1" <>"$LAB_STATE/watchdog"
		echo "not ok - $E2E_NAME: watchdog: still running after ${1}s"
		kill -TERM $$
	) &
	E2E_WATCHDOG=$!
}

e2e_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[ -n "$E2E_WATCHDOG" ] && kill "$E2E_WATCHDOG" 2>/dev/null
	lab_sluice_detach_all
	lab_down
	case ${SLUICE_PIN_ROOT:-} in
	/sys/fs/bpf/sluice-e2e-?*) rm -rf "$SLUICE_PIN_ROOT" ;;
	esac
	echo "1..$E2E_COUNT"
	[ "$E2E_FAILED" = 0 ] || rc=1
	exit "$rc"
}

# e2e_attach: sluice on the gateway's client and attacker sides. Sets
# GC and GA (their names) and reports the attach mode as a TAP comment.
e2e_attach() {
	local m dev
	GC=$(lab_gwdev client)
	GA=$(lab_gwdev attacker)
	for dev in "$GC" "$GA"; do
		if ! m=$(lab_sluice_attach "$dev" 2>"$LAB_STATE/attach.err"); then
			not_ok "attach to $dev" "$(cat "$LAB_STATE/attach.err")"
			exit 1
		fi
	done
	diag "attach mode: $m"
}

# ctl ARGS: sluicectl for interface-less commands (root namespace).
ctl() { "$SLUICECTL" "$@"; }
# gwctl ARGS: sluicectl in the gateway's network namespace.
gwctl() { lab_ctl gw "$@"; }

# counter DEV REASON [FIELD]: one counter from `stats DEV -j` (packets by default).
counter() {
	ctl -j stats "$1" | jq -r --arg r "$2" --arg f "${3:-packets}" '.reasons[] | select(.reason == $r) | .[$f]'
}

# stats_snap DEV: all packet counters of DEV as "reason=N ..." for diagnostics.
stats_snap() {
	ctl -j stats "$1" | jq -r '[.reasons[] | select(.packets + .dry_run_packets > 0) | "\(.reason)=\(.packets)/\(.dry_run_packets)"] | join(" ")'
}

# http ROLE URL [SRC]: HTTP status of a GET from ROLE (000 when no connection).
http() {
	lab_exec "$1" curl -s -o /dev/null -w '%{http_code}' --connect-timeout 1 --max-time 2 \
		${3:+--interface "$3"} "$2" 2>/dev/null
}

# connects ROLE URL [SRC] / refused ROLE URL [SRC]: the TCP connection is
# made (HTTP 200) / cannot be made (curl times out connecting).
connects() { [ "$(http "$@")" = 200 ]; }
no_connect() { [ "$(http "$@")" = 000 ]; }

# pings ROLE COUNT DST [SRC]: sends COUNT echo requests 10 ms apart,
# prints how many replies came back.
pings() {
	lab_exec "$1" timeout 20 ping -q -n -c "$2" -i 0.01 -W 1 ${4:+-I "$4"} "$3" 2>/dev/null |
		sed -n 's/.* \([0-9]*\) received.*/\1/p'
}

# Seconds (float) from CLOCK_MONOTONIC, as the senders print them.
mono() { python3 -c 'import time; print(time.monotonic())'; }

# Run directly (tests/run.sh does), this file checks the lab itself.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	e2e_start lab 60
	ok_if "the gateway-side names fit IFNAMSIZ" \
		test "${#LAB_PREFIX}" -le 11 -a "$(ip -n "$LAB_GW" -br link | awk '{ sub(/@.*/, "", $1); if (length($1) > 15) print $1 }')" = ""
	for dst in 198.18.1.1 198.18.2.1 2001:db8:1::1 2001:db8:2::1; do
		ok_if "the client and the attacker ping $dst" \
			eval '[ "$(pings client 3 $dst)" = 3 ] && [ "$(pings attacker 3 $dst)" = 3 ]'
	done
	lab_http_server gw 8080 >/dev/null
	ok_if "http server in the gateway answers over v4 and v6" \
		eval 'connects client http://198.18.1.1:8080/ && connects attacker "http://[2001:db8:2::1]:8080/"'
	ok_if "the gateway does not forward between hosts" \
		eval '[ "$(pings client 2 198.18.2.2)" = 0 ]'
	ns_before=$(lab_namespaces | wc -l)
	lab_down
	ok_if "down removes its $ns_before namespaces" test -z "$(lab_namespaces)"
	ok_if "down is idempotent" lab_down
	is "status of a downed lab says down" "$("$LAB_DIR/lab.sh" status "$LAB_PREFIX")" "lab $LAB_PREFIX: down"
fi
