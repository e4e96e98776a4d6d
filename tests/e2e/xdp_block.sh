#!/usr/bin/env bash
# Blocklist end to end: blocked sources cannot connect (v4, v6) while others
# can, a ttl expires in the data plane by itself, allow overrides block,
# and the block counters are exact.
set -u
. "$(dirname "$0")/lib.sh"

e2e_start xdp_block 90
e2e_attach
lab_http_server gw 8080 >/dev/null || { not_ok "http server in the gateway"; exit 1; }
lab_addr_add client 198.18.1.20
lab_addr_add client 198.18.1.30
lab_addr_add client 198.18.1.31
lab_addr_add client 2001:db8:1::20
lab_addr_add attacker 2001:db8:2::99
lab_addr_add attacker 198.18.2.50

URL4=http://198.18.1.1:8080/
URL4A=http://198.18.2.1:8080/
URL6A='http://[2001:db8:2::1]:8080/'
URL6='http://[2001:db8:1::1]:8080/'

ok_if "client and attacker connect before any rule" \
	eval 'connects client $URL4 && connects attacker $URL4A && connects attacker "$URL6A"'

# v4: block the attacker's host
ctl block add 198.18.2.2/32 reason e2e
ok_if "v4: blocked attacker cannot open a TCP connection" no_connect attacker $URL4A
ok_if "v4: client still connects while the attacker is blocked" connects client $URL4

# Exact count: every echo request of the blocked source is one block drop
before=$(counter "$GA" block)
got=$(pings attacker 25 198.18.2.1)
after=$(counter "$GA" block)
is "v4: a blocked source gets no echo reply" "$got" 0
is "v4: 25 pings from a blocked source are exactly 25 block drops on $GA" $((after - before)) 25
ctl block del 198.18.2.2/32
ok_if "v4: block del lets the attacker connect again" connects attacker $URL4A

# v6: block the attacker's /64; the client's v6 still connects
ctl block add 2001:db8:2::/64 reason e2e-v6
ok_if "v6: blocked attacker /64 cannot open a TCP connection" no_connect attacker "$URL6A"
ok_if "v6: client still connects over v6" connects client "$URL6"
before=$(counter "$GA" block)
got=$(pings attacker 10 2001:db8:2::1)
after=$(counter "$GA" block)
is "v6: 10 pings from a blocked /64 are exactly 10 block drops" "$got/$((after - before))" 0/10
got=$(pings attacker 10 2001:db8:2::1 2001:db8:2::99)
is "v6: a second address of the blocked /64 gets no reply either" "$got" 0
is "v6: top counts the blocked /64 as one source" \
	"$(ctl -j top 10 | jq -c '[.[] | select(.source | startswith("2001:db8:2:")) | [.source, .reason, .packets >= 20]]')" \
	'[["2001:db8:2::/64","block",true]]'
ctl block del 2001:db8:2::/64
ok_if "v6: block del lets the attacker connect again" connects attacker "$URL6A"

# ttl: enforced by the data plane, no CLI action after the add
t0=$(mono)
ctl block add 198.18.1.20/32 ttl 3s reason short
ok_if "ttl: source blocked while the ttl runs" no_connect client $URL4 198.18.1.20
ok_if "ttl: other client addresses unaffected" connects client $URL4 198.18.1.30
left=$(python3 -c "import time; print(max(0.0, $t0 + 3.3 - time.monotonic()))")
sleep "$left"
ok_if "ttl: source connects again once 3s have passed (expiry in BPF)" \
	connects client $URL4 198.18.1.20
is "ttl: block list no longer shows the expired entry" \
	"$(ctl -j block list | jq '[.[] | select(.cidr == "198.18.1.20/32")] | length')" 0

# allow beats block, and is counted as allow
ctl block add 198.18.1.0/24 reason whole-subnet
ctl allow add 198.18.1.30/32 reason management
a0=$(counter "$GC" allow)
ok_if "allow: allowlisted address connects although its /24 is blocked" \
	connects client $URL4 198.18.1.30
ok_if "allow: a neighbour in the blocked /24 still cannot connect" \
	no_connect client $URL4 198.18.1.31
a1=$(counter "$GC" allow)
ok_if "allow: passes counted under reason allow ($a0 -> $a1)" test $((a1 - a0)) -ge 3
ctl allow del 198.18.1.30/32
ok_if "allow: after allow del the address is blocked again" no_connect client $URL4 198.18.1.30
ctl block del 198.18.1.0/24

# Counters, all interfaces and top
ok_if "stats -j: block packets > 0 over all interfaces" \
	test "$(ctl -j stats | jq '.reasons[] | select(.reason == "block") | .packets')" -gt 0
n=$(ctl -j top 10 | jq '[.[] | select(.source == "198.18.2.2/32" and .reason == "block" and .packets >= 25)] | length')
is "top -j: the attacker is listed with reason block and >= 25 packets" "$n" 1
# events: drops are sampled once per source per second into the ring buffer
ctl block add 198.18.2.50/32 reason sampled
gwctl -j events timeout 2s >"$LAB_STATE/events" 2>&1 &
ev=$!
sleep 0.5
pings attacker 5 198.18.2.1 198.18.2.50 >/dev/null
wait $ev
is "events: 5 blocked pings within a second give one sampled event, with its interface" \
	"$(jq -sc --arg d "$GA" '[.[] | select(.source == "198.18.2.50/32") | [.reason, .interface == $d, .proto]]' "$LAB_STATE/events")" \
	'[["block",true,1]]'
ctl block del 198.18.2.50/32

diag "$GA: $(stats_snap "$GA")"
diag "$GC: $(stats_snap "$GC")"
