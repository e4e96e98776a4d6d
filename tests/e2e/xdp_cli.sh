#!/usr/bin/env bash
# sluicectl against a live data plane: JSON output, errors and exit codes,
# import/export at scale, dry-run, and pins across detach/attach/purge.
set -u
. "$(dirname "$0")/lib.sh"

e2e_start xdp_cli 120
e2e_attach
lab_http_server gw 8080 >/dev/null || { not_ok "http server in the gateway"; exit 1; }
URL=http://198.18.2.1:8080/
ERR=$LAB_STATE/stderr

# expect_exit NAME CODE TEXT CMD...: CMD exits CODE and its stderr contains
# TEXT (if not empty).
expect_exit() {
	local name=$1 code=$2 text=$3 rc
	shift 3
	"$@" >/dev/null 2>"$ERR"
	rc=$?
	if [ "$rc" = "$code" ] && { [ -z "$text" ] || grep -qF -- "$text" "$ERR"; }; then
		ok "$name"
	else
		not_ok "$name" "exit $rc (want $code), stderr: $(head -c 300 "$ERR")" "want stderr to contain: $text"
	fi
}

# json_is NAME FILTER CMD...: CMD's stdout parses as JSON and FILTER holds.
json_is() {
	local name=$1 filter=$2 out
	shift 2
	if out=$("$@" 2>"$ERR") && jq -e "$filter" <<<"$out" >/dev/null 2>&1; then
		ok "$name"
	else
		not_ok "$name" "output: $(head -c 300 <<<"$out")" "stderr: $(head -c 300 "$ERR")" "filter: $filter"
	fi
}

# --- JSON output of every listing command
ctl block add 198.18.2.0/24 reason json-check
ctl allow add 198.18.1.0/30 ttl 1h reason mgmt
ctl limit set 198.18.3.0/24 pps 50 burst 10 syn 5
ctl throttle add 198.18.4.4 pps 10 ttl 10m reason tcheck
json_is "json: iface list" \
	'length == 2 and all(.[]; .state == "enforcing" and (.attach | IN("libxdp", "libxdp-single", "libbpf")))' \
	gwctl -j iface list
json_is "json: block list" \
	'.[0] | .cidr == "198.18.2.0/24" and .family == 4 and .expires_in_s == null and .origin == "cli" and .reason == "json-check"' \
	ctl -j block list
json_is "json: allow list" '.[0] | .cidr == "198.18.1.0/30" and .expires_in_s > 3500 and .reason == "mgmt"' \
	ctl -j allow list
json_is "json: limit list" \
	'map(.target) == ["default", "198.18.3.0/24"] and .[1].pps == {"rate": 50, "burst": 10} and .[1].syn == {"rate": 5, "burst": 5}' \
	ctl -j limit list
json_is "json: throttle list" \
	'.[0] | .source == "198.18.4.4/32" and .action == "cap" and .pps == 10 and .expires_in_s > 500' \
	ctl -j throttle list
json_is "json: config show" '."dry-run" == false and ."ipv6-prefix" == 64 and .ports == "none"' \
	ctl -j config show
json_is "json: stats" '.interface == "all" and (.reasons | length) >= 10 and all(.reasons[]; .packets >= 0)' \
	ctl -j stats
json_is "json: stats DEV" ".interface == \"$GA\" and (.reasons | map(.reason) | index(\"block\")) != null" \
	ctl -j stats "$GA"
json_is "json: top" 'type == "array"' ctl -j top
is "json: watch prints one object per interval" \
	"$(ctl -j watch "$GA" interval 100ms count 2 | jq -sc --arg d "$GA" 'map(.interface == $d and (.pps | has("block")))')" \
	'[true,true]'
json_is "json: -p (pretty) parses too" 'length == 1' ctl -p block list
json_is "json: an error is a JSON object with the message" '.error | test("198.18.0.300")' \
	eval "$SLUICECTL -j block add 198.18.0.300/32; true"
ctl block flush >/dev/null
ctl allow flush >/dev/null
ctl limit del 198.18.3.0/24
ctl throttle del 198.18.4.4

# --- errors and exit codes
expect_exit "error: bad CIDR exits 2 and names the value" 2 "198.18.0.300/24" ctl block add 198.18.0.300/24
expect_exit "error: /33 exits 2 (prefix length out of range)" 2 "out of range" ctl block add 198.18.0.0/33
expect_exit "error: host bits past the prefix exit 2" 2 "198.18.2.1/24" ctl block add 198.18.2.1/24
expect_exit "error: unknown device for iface attach exits 1 and names it" 1 "nosuchdev0" \
	gwctl iface attach nosuchdev0
expect_exit "error: missing argument exits 2" 2 "missing CIDR" ctl block add
expect_exit "error: missing burst exits 2" 2 "burst" ctl limit set default pps 100
expect_exit "error: throttle takes one address, not a prefix (exit 2)" 2 "one address" \
	ctl throttle add 198.18.2.0/24
expect_exit "error: unknown object exits 2" 2 "frobnicate" ctl frobnicate
expect_exit "error: unknown command exits 2" 2 "frobnicate" ctl block frobnicate
# A copy nobody can execute wherever the build tree is
mkdir -p "$LAB_STATE/bin" && cp "$SLUICECTL" "$LAB_STATE/bin/" && chmod 755 "$LAB_STATE" "$LAB_STATE/bin"
expect_exit "error: not root exits 1 with a 'root' message" 1 "root" \
	setpriv --reuid=65534 --regid=65534 --clear-groups "$LAB_STATE/bin/sluicectl" block list

# --- import / export
python3 -c '
import random, sys
random.seed(int(sys.argv[2]))
with open(sys.argv[1], "w") as f:
    f.write("# 100000 random /32s of 198.18.0.0/15\n")
    for n in random.sample(range(1 << 17), 100000):
        a = (198 << 24) | (18 << 16) | n
        f.write("%d.%d.%d.%d/32\n" % (a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255))
' "$LAB_STATE/100k.txt" $$
t0=$(mono)
ok_if "import: 100,000 random /32s import" ctl block import "$LAB_STATE/100k.txt"
t1=$(mono)
diag "import of 100000 took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')s"
is "import: block list -j has 100000 entries" "$(ctl -j block list | jq length)" 100000

ctl block add 2001:db8:ff::/48 ttl 1h reason v6 range
ctl block add 198.18.0.0/16 reason with several words
ctl block add 198.18.200.0/24 ttl 90m
SNAP='[.[] | {cidr, reason, ttl: (.expires_in_s != null)}] | sort_by(.cidr)'
ctl -j block list | jq -c "$SNAP" >"$LAB_STATE/before.json"
ctl block export "$LAB_STATE/export.txt"
ok_if "export: wrote one line per entry plus a header" \
	test "$(wc -l <"$LAB_STATE/export.txt")" = 100004
ctl block flush >/dev/null
is "export: flush empties the list" "$(ctl -j block list | jq length)" 0
ctl block import "$LAB_STATE/export.txt" >/dev/null
ctl -j block list | jq -c "$SNAP" >"$LAB_STATE/after.json"
ok_if "export: export, flush, import gives the same list (cidr, reason, ttl)" \
	cmp -s "$LAB_STATE/before.json" "$LAB_STATE/after.json"
ctl block flush >/dev/null

printf '%s\n' '198.18.0.1/32' '198.18.0.2/32 reason fine' '# a comment' '198.18.0.300/32' \
	'198.18.0.5/32 ttl 1h' >"$LAB_STATE/bad.txt"
expect_exit "import: a bad line fails (exit 1) naming file:line and the value" 1 \
	"bad.txt:4: '198.18.0.300/32'" ctl block import "$LAB_STATE/bad.txt"
ok_if "import: ... and says nothing was imported" grep -q "nothing imported" "$ERR"
is "import: ... and really imported nothing" "$(ctl -j block list | jq length)" 0

# --- dry-run: count what would drop, drop nothing
ctl block add 198.18.2.0/24 reason dry
ok_if "dry-run: off, a blocked attacker cannot connect" no_connect attacker $URL
ctl config set dry-run on
is "dry-run: config show -j says on" "$(ctl -j config show | jq '."dry-run"')" true
d0=$(counter "$GA" block dry_run_packets) b0=$(counter "$GA" block)
ok_if "dry-run: on, the blocked attacker connects" connects attacker $URL
d1=$(counter "$GA" block dry_run_packets) b1=$(counter "$GA" block)
ok_if "dry-run: block dry_run_packets increase ($d0 -> $d1)" test $((d1 - d0)) -ge 3
is "dry-run: block packets (real drops) stay put" "$b1" "$b0"
ctl config set dry-run off
ok_if "dry-run: off again, the attacker is dropped again" no_connect attacker $URL

# --- pins outlive attachments; purge removes them
gwctl iface detach "$GC" >/dev/null
gwctl iface detach "$GA" >/dev/null
json_is "detach: iface list -j shows both detached" 'length == 2 and all(.[]; .state == "detached" and .attach == "none")' \
	gwctl -j iface list
is "detach: the blocklist is still there" "$(ctl -j block list | jq -r '.[].cidr')" 198.18.2.0/24
ok_if "detach: with nothing attached the attacker connects" connects attacker $URL
lab_sluice_attach "$GA" >/dev/null 2>&1 && lab_sluice_attach "$GC" >/dev/null 2>&1
ok_if "re-attach: the kept blocklist is enforced again" no_connect attacker $URL
expect_exit "purge: refused while another interface still uses the maps (names it)" 1 "$GA" \
	gwctl iface detach "$GC" purge
ok_if "purge: ... but $GC was detached and the pins are kept" \
	test -e "$SLUICE_PIN_ROOT/v3/block_v4" -a \
	"$(gwctl -j iface list | jq -r '[.[] | select(.state == "enforcing") | .ifname] | join(",")')" = "$GA"
ok_if "purge: detach with purge of the last interface succeeds" gwctl iface detach "$GA" purge
ok_if "purge: the pin directory is gone" test ! -e "$SLUICE_PIN_ROOT"
ok_if "purge: the attacker connects (nothing attached, nothing pinned)" connects attacker $URL

# --- upgrade: abi.h says a struct change bumps SLUICE_ABI_VERSION so new
# maps are pinned beside the old ones. Pins left by ABI v1 (sluice 0.1.0,
# whose cpustate values were 32 bytes) must not stop an attach.
if command -v bpftool >/dev/null; then
	mkdir -p "$SLUICE_PIN_ROOT/v1"
	bpftool map create "$SLUICE_PIN_ROOT/v1/cpustate" type percpu_array key 4 value 32 entries 1 name cpustate
	expect_exit "upgrade: maps pinned by ABI v1 (32-byte cpustate) do not stop iface attach" 0 "" \
		gwctl iface attach "$GA"
	gwctl iface detach "$GA" >/dev/null 2>&1
else
	skip "upgrade: maps pinned by ABI v1 (32-byte cpustate) do not stop iface attach" "no bpftool"
fi
