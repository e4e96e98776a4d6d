#!/usr/bin/env bash
# sluiced and the data plane: the config's xdp section attaches sluice_xdp
# to the gateway's client-side interface at start and applies its settings;
# a second start adopts the attachment; the data plane keeps enforcing (a
# blocklisted client stays out) after sluiced has exited.
set -u
. "$(dirname "$0")/gw_lib.sh"

gw_start xdp 60
GC=$(lab_gwdev client)
gw_xdp_pins "$GC"
B1=$(gw_host backend1)
gw_mock backend1 9000 >/dev/null || { not_ok "mock backend1:9000"; exit 1; }
cat >"$GW_CFG" <<EOF
{
  "workers": 1,
  "listeners": [ { "name": "plain", "address": "$GW_V4:$GW_HTTP" } ],
  "xdp": { "interfaces": [ { "name": "$GC", "mode": "auto" } ],
           "protected_ports": [ $GW_HTTP ],
           "default_limit": { "pps": 5000, "burst": 5000, "syn": 100 },
           "ipv6_prefix": 56 },
  "pools": { "p": { "backends": [ { "url": "http://$B1:9000" } ] } },
  "routes": [ { "name": "all", "match": { "path": "/" }, "pool": "p" } ]
}
EOF
# The data plane's pins must be the root's: sluiced enters only the netns
GW_ROOT_MOUNTS=1
CHAT='{"model":"m","messages":[{"role":"user","content":"hi"}]}'
req() { cl -o /dev/null -w '%{http_code}' --max-time 3 -H 'content-type: application/json' -d "$CHAT" "$HTTP_URL/v1/chat/completions" 2>/dev/null; }

gw_sluiced "$GW_CFG" || exit 1
ok_if "start: sluiced logs the attachment" grep -q "xdp: interface=$GC attached" "$GW_LOG"
is "start: the interface is enforcing" \
	"$(lab_ctl gw -j iface list | jq -r --arg d "$GC" '.[] | select(.ifname == $d) | .state')" enforcing
is "start: the default limit is applied" \
	"$(ctl -j limit list | jq -c '.[] | select(.target == "default") | [.pps.rate, .pps.burst, .syn.rate]')" \
	"[5000,5000,100]"
is "start: protected ports and the IPv6 prefix are applied" \
	"$(ctl -j config show | jq -c '[.ports, ."ipv6-prefix"]')" '["8080",56]'
is "a request passes through XDP and sluiced" "$(req)" 200
p=$(ctl -j stats "$GC" | jq '.reasons[] | select(.reason == "pass") | .packets')
between "XDP counted the client's packets as pass" "$p" 1 100000

kill -TERM "$SLUICED_PID"
wait "$SLUICED_PID"
is "stop: sluiced exits 0" "$?" 0
is "stop: the data plane is still attached" \
	"$(lab_ctl gw -j iface list | jq -r --arg d "$GC" '.[] | select(.ifname == $d) | .state')" enforcing
lab_http_server gw 9999 >/dev/null || not_ok "a web server in the gateway"
is "stop: with no daemon, the client reaches a server in the gateway" \
	"$(cl -o /dev/null -w '%{http_code}' --max-time 2 "http://$GW_V4:9999/" 2>/dev/null)" 200
b0=$(ctl -j stats "$GC" | jq '.reasons[] | select(.reason == "block") | .packets')
ctl block add 198.18.1.2 reason e2e >/dev/null
is "stop: blocklisted, it is dropped at the NIC with no daemon" \
	"$(cl -o /dev/null -w '%{http_code}' --max-time 2 "http://$GW_V4:9999/" 2>/dev/null)" 000
between "stop: ... counted under block" \
	"$(($(ctl -j stats "$GC" | jq '.reasons[] | select(.reason == "block") | .packets') - b0))" 1 100
ctl block del 198.18.1.2 >/dev/null

: >"$GW_LOG"
gw_sluiced "$GW_CFG" || exit 1
ok_if "restart: sluiced adopts the attachment" grep -q "xdp: interface=$GC adopted" "$GW_LOG"
is "restart: requests pass again" "$(req)" 200
