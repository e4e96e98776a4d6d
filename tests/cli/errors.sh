#!/usr/bin/env bash
# Bad input to sluicectl: one clear line on stderr that names the command and
# the bad value, and the documented exit status (1 runtime, 2 usage); with -j
# also {"error": ...} on stdout. TAP output.
# Needs root for the commands that open maps; they use a private pin root,
# removed on exit. No network namespaces.
set -u
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"

# err_case NAME STATUS PATTERN... -- ARGS...
# sluicectl ARGS exits STATUS with one message line on stderr, starting
# "sluicectl: " and holding every PATTERN (fixed strings). A usage listing
# after the message ("usage:" and indented synopsis lines) is allowed.
err_case() {
	local name=$1 want=$2 p pats=() msgs
	shift 2
	while [ "$1" != -- ]; do
		pats+=("$1")
		shift
	done
	shift
	run "$@"
	why=
	[ "$rc" = "$want" ] || because "exit $rc, want $want"
	msgs=$(grep -v -e '^usage:$' -e '^  sluicectl ' "$tmp/err")
	[ "$(printf '%s' "$msgs" | grep -c '')" = 1 ] ||
		because "want one message line on stderr, got $(printf '%s' "$msgs" | grep -c '')"
	[[ $msgs == 'sluicectl: '* ]] || because "message does not start with 'sluicectl: '"
	for p in "${pats[@]}"; do
		grep -qF -- "$p" <<<"$msgs" || because "message lacks \"$p\""
	done
	[ -s "$tmp/out" ] && because "stdout not empty: $(head -c 100 "$tmp/out")"
	report "$name" "$why"
}

# json_err NAME STATUS PATTERN -- ARGS...: as above with -j; stdout is one JSON
# object whose "error" holds PATTERN.
json_err() {
	local name=$1 want=$2 pat=$3
	shift 4
	run -j "$@"
	why=
	[ "$rc" = "$want" ] || because "exit $rc, want $want"
	jq -e '(type == "object") and (.error | type == "string")' "$tmp/out" >/dev/null 2>&1 ||
		because "stdout is not {\"error\": ...}: $(head -c 200 "$tmp/out")"
	jq -r '.error' "$tmp/out" 2>/dev/null | grep -qF -- "$pat" ||
		because "error does not name \"$pat\": $(head -c 200 "$tmp/out")"
	report "$name" "$why"
}

# CIDR
err_case "CIDR: prefix length past 32 is out of range (exit 2)" 2 \
	"block add" "'10.0.0.0/33'" "out of range" -- block add 10.0.0.0/33
err_case "CIDR: prefix length past 128 is out of range (exit 2)" 2 \
	"'2001:db8::/129'" "out of range (0-128)" -- allow add 2001:db8::/129
err_case "CIDR: host bits past the prefix length are refused" 2 \
	"'10.0.0.1/8'" "host bits" -- block add 10.0.0.1/8
err_case "CIDR: a word is not an address" 2 \
	"'foo'" "not an IPv4 address" -- block add foo
err_case "CIDR: zero-padded prefix length is refused" 2 \
	"'10.0.0.0/08'" "plain decimal" -- block del 10.0.0.0/08
err_case "CIDR: bad limit target names the value" 2 \
	"limit set" "'10.0.0.0/33'" "default" -- limit set 10.0.0.0/33 pps 1 burst 1
err_case "ADDR: throttle refuses a prefix" 2 \
	"throttle add" "'10.0.0.0/24'" "one address" -- throttle add 10.0.0.0/24

# DURATION
err_case "duration: unknown unit in ttl" 2 \
	"block add" "ttl '10x'" "unknown unit" -- block add 10.0.0.0/8 ttl 10x
err_case "duration: fractions are refused" 2 \
	"ttl '1.5s'" "fractions" -- allow add 10.0.0.0/8 ttl 1.5s
err_case "duration: units out of order are refused" 2 \
	"ttl '30m1h'" "largest to smallest" -- throttle add 10.0.0.1 ttl 30m1h
err_case "duration: ttl 0 is refused" 2 \
	"ttl '0'" "positive" -- block add 10.0.0.0/8 ttl 0
err_case "duration: watch interval under 100ms is refused" 2 \
	"interval '10ms'" "100ms" -- watch interval 10ms

# N
err_case "number: pps -1 is refused" 2 \
	"limit set" "pps '-1'" "decimal" -- limit set default pps -1 burst 1
err_case "number: pps 1e3 is refused" 2 \
	"pps '1e3'" "decimal" -- limit set default pps 1e3 burst 1
err_case "number: pps 99999999999 is out of range" 2 \
	"pps '99999999999'" "out of range (0-100000000)" -- limit set default pps 99999999999 burst 1
err_case "number: throttle pps 0x10 is refused" 2 \
	"throttle add" "pps '0x10'" -- throttle add 10.0.0.1 pps 0x10
err_case "number: top 0 is out of range" 2 \
	"top" "'0'" "out of range" -- top 0

# TEXT
err_case "reason: longer than 31 bytes is refused" 2 \
	"block add" "31 bytes" -- block add 10.0.0.0/8 reason aaaaaaaaaa bbbbbbbbbb cccccccccc dd
err_case "reason: '#' is refused" 2 \
	"'a#b'" "#" -- block add 10.0.0.0/8 reason a#b

# Grammar
err_case "unknown object: exit 2 naming it" 2 \
	"'zap'" "unknown object" -- zap
err_case "unknown command: exit 2 naming it" 2 \
	"block" "'zap'" "unknown command" -- block zap
err_case "missing argument: exit 2 naming it" 2 \
	"block add" "missing CIDR" -- block add
err_case "missing value after a keyword" 2 \
	"'ttl' needs a value" -- block add 10.0.0.0/8 ttl
err_case "missing burst for a packet rate" 2 \
	"limit set" "missing burst" -- limit set default pps 10
err_case "extra argument: exit 2 naming it" 2 \
	"block del" "unexpected argument 'extra'" -- block del 10.0.0.0/8 extra
err_case "extra argument to a list" 2 \
	"throttle list" "unexpected argument 'x'" -- throttle list x
err_case "unknown flush mode names the one there is" 2 \
	"'all'" "expired" -- allow flush all
err_case "bad iface mode names the modes" 2 \
	"mode 'fast'" "native, skb or auto" -- iface attach lo mode fast

# An unknown keyword is not a keyword missing its value (BUG at the time of
# writing: "'bogus' needs a value")
err_case "limit set: unknown keyword is 'unexpected argument'" 2 \
	"unexpected argument 'bogus'" -- limit set default pps 1 burst 1 bogus
err_case "throttle add: unknown keyword is 'unexpected argument'" 2 \
	"unexpected argument 'bogus'" -- throttle add 10.0.0.1 bogus
err_case "events: unknown keyword is 'unexpected argument'" 2 \
	"unexpected argument 'bogus'" -- events bogus

# Options (BUG at the time of writing: getopt's line and ours, which does not
# name the option)
err_case "unknown option: one line naming it" 2 \
	"-x" -- -x block list

# version takes no argument, as every other command refuses extras (BUG at
# the time of writing: ignored, exit 0)
err_case "version refuses an extra argument" 2 \
	"unexpected argument 'extra'" -- version extra

# config
run config set no-such-key 1
why=
[ $rc = 2 ] || because "exit $rc, want 2"
head -1 "$tmp/err" | grep -q "^sluicectl: config set: unknown key 'no-such-key'" ||
	because "first line does not name the key"
for k in dry-run fail-open ports ipv6-prefix new-source-cap; do
	grep -q "^  $k " "$tmp/err" || because "does not list key $k"
done
report "config: unknown key exits 2, names it and lists the keys" "$why"

err_case "config: bad boolean names the value and the choices" 2 \
	"config set" "dry-run 'maybe'" "on|off" -- config set dry-run maybe
err_case "config: ipv6-prefix out of range" 2 \
	"ipv6-prefix '129'" "out of range" "1-128" -- config set ipv6-prefix 129
err_case "config: reversed port range" 2 \
	"ports '10-5'" -- config set ports 10-5
err_case "config: missing value" 2 \
	"config set" "KEY VALUE" -- config set dry-run

# -j: the error as JSON on stdout too
json_err "-j: bad CIDR gives {\"error\"} naming the value" 2 "'10.0.0.0/33'" -- block add 10.0.0.0/33
json_err "-j: unknown object gives {\"error\"} naming it" 2 "'zap'" -- zap
json_err "-j: bad duration gives {\"error\"} naming it" 2 "'10x'" -- block add 10.0.0.0/8 ttl 10x
# BUGs at the time of writing: {"error":"failed"}, and a crash for no object
json_err "-j: unknown config key gives {\"error\"} naming it" 2 "'no-such-key'" -- config set no-such-key 1
json_err "-j: missing command gives {\"error\"} naming the object" 2 "block" -- block
json_err "-j: no object at all gives {\"error\"}, exit 2" 2 "" --

# Not root
why=
if ! $root; then
	report "not root: exit 1 and a message about root # SKIP not root"
elif ! command -v setpriv >/dev/null; then
	report "not root: exit 1 and a message about root # SKIP no setpriv"
else
	setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" block list >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ $rc = 1 ] || because "exit $rc, want 1"
	[ "$(grep -c '' "$tmp/err")" = 1 ] || because "want one line on stderr"
	grep -q 'block list: must run as root' "$tmp/err" || because "message does not mention root"
	[ -e "$SLUICE_PIN_ROOT" ] && because "created $SLUICE_PIN_ROOT anyway"
	report "not root: exit 1 and a message about root" "$why"
fi

# Runtime errors (exit 1) need the maps
if $root; then
	err_case "runtime: deleting what is not there exits 1" 1 \
		"block del" "'10.9.0.0/16'" "not in the block list" -- block del 10.9.0.0/16
	err_case "runtime: throttle del of no verdict exits 1" 1 \
		"'10.9.0.1'" "no verdict" -- throttle del 10.9.0.1
	err_case "runtime: import of a missing file exits 1" 1 \
		"block import" "'$tmp/none'" -- block import "$tmp/none"

	printf '10.1.0.0/16 reason ok\n10.2.0.1/8\n10.3.0.0/16 ttl 5y\n' >"$tmp/bad.list"
	run block import "$tmp/bad.list"
	why=
	[ $rc = 1 ] || because "exit $rc, want 1"
	grep -qF "$tmp/bad.list:2: '10.2.0.1/8': host bits" "$tmp/err" || because "line 2 not reported"
	grep -qF "$tmp/bad.list:3: '5y'" "$tmp/err" || because "line 3 not reported"
	grep -q "2 bad lines, nothing imported" "$tmp/err" || because "no summary"
	run -j block list
	[ "$(jq length "$tmp/out" 2>/dev/null)" = 0 ] || because "something was imported: $(cat "$tmp/out")"
	report "runtime: import with bad lines names each (FILE:LINE) and imports nothing" "$why"

	# The exit status of "no such interface" should not depend on the command
	# (BUG at the time of writing: iface attach exits 1, stats and watch 2)
	run iface attach no-such-if0
	a=$rc
	run stats no-such-if0
	why=
	[ "$a" = "$rc" ] || because "iface attach exits $a, stats exits $rc"
	report "no such interface: same exit status for iface attach and stats" "$why"

	# What throttle list prints, throttle del takes back (BUG at the time of
	# writing: an IPv6 verdict is listed as its /64, which del refuses)
	run throttle add 2001:db8:1::7 reason v6-test
	src=$("$CTL" -j throttle list 2>/dev/null | jq -r '.[] | select(.reason == "v6-test") | .source')
	run throttle del "${src:-none}"
	why=
	[ "$src" = 2001:db8:1::/64 ] || because "listed as '$src', want 2001:db8:1::/64"
	[ $rc = 0 ] || because "throttle del '$src' exits $rc, want 0"
	report "throttle del takes the IPv6 source as throttle list prints it" "$why"
	"$CTL" throttle del 2001:db8:1::7 2>/dev/null
else
	report "runtime errors # SKIP not root"
fi

echo "1..$ntests"
