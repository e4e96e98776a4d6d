#!/usr/bin/env bash
# Throttle verdicts end to end: drop, pps cap, ttl expiry, del; v6 per /64.
set -u
. "$(dirname "$0")/lib.sh"

e2e_start xdp_throttle 90
e2e_attach
lab_http_server gw 8080 >/dev/null || { not_ok "http server in the gateway"; exit 1; }
lab_addr_add attacker 2001:db8:2::99

URL=http://198.18.2.1:8080/
URL6='http://[2001:db8:2::1]:8080/'

ok_if "attacker connects before any verdict" connects attacker $URL

# Drop
t0=$(counter "$GA" throttle)
ctl throttle add 198.18.2.2 reason e2e
ok_if "drop: throttled source cannot open a TCP connection" no_connect attacker $URL
ok_if "drop: the client still connects" connects client http://198.18.1.1:8080/
t1=$(counter "$GA" throttle)
ok_if "drop: counted under reason throttle ($t0 -> $t1)" test $((t1 - t0)) -ge 1
is "drop: throttle list -j shows it as a drop without expiry" \
	"$(ctl -j throttle list | jq -c '.[] | select(.source == "198.18.2.2/32") | [.action, .expires_in_s, .reason]')" \
	'["drop",null,"e2e"]'

# Cap: 50 pings 10 ms apart (0.5 s) against pps 5 burst 5
ctl throttle add 198.18.2.2 pps 5 burst 5
c0=$(counter "$GA" throttle_cap)
p0=$(counter "$GA" pass)
got=$(pings attacker 50 198.18.2.1)
c1=$(counter "$GA" throttle_cap)
p1=$(counter "$GA" pass)
between "cap: 50 pings at 100/s against pps 5 burst 5 get burst + a few replies" "$got" 5 10
is "cap: every unanswered ping is one throttle_cap drop" $((c1 - c0)) $((50 - got))
is "cap: every answered ping passed" $((p1 - p0)) "$got"
is "cap: throttle list -j shows the cap" \
	"$(ctl -j throttle list | jq -c '.[] | select(.source == "198.18.2.2/32") | [.action, .pps, .burst]')" \
	'["cap",5,5]'

# ttl: the data plane lets it back by itself
ctl throttle add 198.18.2.2 ttl 2s reason short
start=$(mono)
ok_if "ttl: source dropped while the ttl runs" no_connect attacker $URL
sleep "$(python3 -c "import time; print(max(0.0, $start + 2.3 - time.monotonic()))")"
ok_if "ttl: source connects again once 2s have passed" connects attacker $URL
is "ttl: throttle list no longer shows it" "$(ctl -j throttle list | jq length)" 0

# del
ctl throttle add 198.18.2.2
ok_if "del: source dropped before throttle del" no_connect attacker $URL
ok_if "del: throttle del succeeds" ctl throttle del 198.18.2.2
ok_if "del: source connects after throttle del" connects attacker $URL
ctl throttle del 198.18.2.2 2>"$LAB_STATE/err"
is "del: deleting it again fails with exit 1" "$?" 1
ok_if "del: ... and says there is no verdict for it" grep -q "no verdict" "$LAB_STATE/err"

# v6: a verdict is per /64
ctl throttle add 2001:db8:2::2
ok_if "v6: the throttled address cannot connect" no_connect attacker "$URL6" 2001:db8:2::2
ok_if "v6: another address of its /64 cannot either" no_connect attacker "$URL6" 2001:db8:2::99
is "v6: throttle list shows the /64" "$(ctl -j throttle list | jq -r '.[].source')" "2001:db8:2::/64"
ctl throttle del 2001:db8:2::99
ok_if "v6: throttle del of any address of the /64 lifts it" connects attacker "$URL6" 2001:db8:2::99
