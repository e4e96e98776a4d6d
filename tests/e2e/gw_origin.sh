#!/usr/bin/env bash
# The client behind a load balancer, end to end: a real HAProxy in its own
# namespace sends PROXY protocol v2 (plain, v4 and v6 clients) and v1
# (before TLS), and X-Forwarded-For in HTTP mode. sluiced believes them
# from trusted_proxies only: the audit's origin, the backend's
# X-Forwarded-For and the per-address limits are the real client's; a
# client that sends its own header directly is not believed; a trusted
# proxy's bad header closes the connection (counted) or is a 400; strikes
# go to the client, never to the proxy, and a client blocked behind the
# proxy is refused at L7.
set -u
. "$(dirname "$0")/gw_lib.sh"

command -v haproxy >/dev/null || { not_ok "gw_origin: needs haproxy (make test-deps)"; exit 1; }
gw_start origin 120
lab_host_add lb l 3 && lab_host_add attacker a 2 || { not_ok "lab: lb and attacker hosts"; exit 1; }
export SLUICE_PIN_ROOT=/sys/fs/bpf/sluice-gworigin-$$
GL=$(lab_gwdev lb)
origin_cleanup() {
	lab_ctl gw iface detach "$GL" purge >/dev/null 2>&1
	rm -rf "$SLUICE_PIN_ROOT"
}
trap 'origin_cleanup; gw_cleanup' EXIT
# The gateway does not forward: the client and the attacker reach the load
# balancer over links of their own (198.18.30.0/24, 198.18.31.0/24)
lb_link() {
	local role=$1 net=$2 ns lbns
	ns=$(lab_ns "$role")
	lbns=$(lab_ns lb)
	ip -n "$ns" link add lb0 type veth peer name "h$net" netns "$lbns" &&
		ip -n "$ns" addr add 198.18.$net.1/24 dev lb0 &&
		ip -n "$ns" addr add 2001:db8:$net::1/64 dev lb0 nodad &&
		ip -n "$lbns" addr add 198.18.$net.2/24 dev "h$net" &&
		ip -n "$lbns" addr add 2001:db8:$net::2/64 dev "h$net" nodad &&
		ip -n "$ns" link set lb0 up && ip -n "$lbns" link set "h$net" up
}
lb_link client 30 && lb_link attacker 31 || { not_ok "lab: links to the load balancer"; exit 1; }
B1=$(gw_host backend1)
LB=$(gw_host lb)
LBC=198.18.30.2		# the load balancer as the client sees it
CL=198.18.30.1		# the client as the load balancer sees it
AT=198.18.31.1
CD=$(gw_host client)	# the client straight to the gateway
PP=8090
XF=8091
gw_mock backend1 9000 --echo --echo-headers x-forwarded-for >/dev/null ||
	{ not_ok "mock backend1:9000"; exit 1; }
AUDIT=$GW_TMP/audit.jsonl
export SLUICE_ADMIN=unix:$GW_TMP/admin.sock
TRUST='"trusted_proxies": [ "198.18.3.0/24", "2001:db8:3::/64" ]'

cat >"$GW_CFG" <<EOF
{
  "workers": 2,
  "listeners": [
    { "name": "tls", "address": "$GW_V4:$GW_TLS", $TRUST, "proxy_protocol": true,
      "tls": { "certificates": [ { "cert": "$GW_CERTS/api.pem", "key": "$GW_CERTS/api.key" } ] } },
    { "name": "pp", "address": "[::]:$PP", $TRUST, "proxy_protocol": true },
    { "name": "xff", "address": "$GW_V4:$XF", $TRUST, "forwarded_for": true },
    { "name": "plain", "address": "$GW_V4:$GW_HTTP" } ],
  "xdp": { "interfaces": [ { "name": "$GL", "mode": "auto" } ], "protected_ports": [ $PP ] },
  "pools": { "p": { "backends": [ { "url": "http://$B1:9000" } ] } },
  "routes": [ { "name": "chat", "match": { "path": "/" }, "pool": "p" } ],
  "limits": { "per_address": { "requests_per_second": 10 } },
  "escalation": { "events": [ "rate_limited" ], "strikes": 5, "window": "1m",
                  "steps": [ { "action": "throttle", "pps": 50, "ttl": "30s" },
                             { "action": "block", "ttl": "30s" } ] },
  "admin": { "address": "$SLUICE_ADMIN" },
  "audit": { "path": "$AUDIT", "sync": "always" }
}
EOF
GW_ROOT_MOUNTS=1
gw_sluiced "$GW_CFG" || exit 1

cat >"$GW_TMP/haproxy.cfg" <<EOF
global
  maxconn 512
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend v2
  bind $LBC:8080
  bind 198.18.31.2:8080
  bind [2001:db8:30::2]:8080
  default_backend v2
backend v2
  server gw $GW_V4:$PP send-proxy-v2
frontend v1tls
  bind $LBC:9443
  default_backend v1tls
backend v1tls
  server gw $GW_V4:$GW_TLS send-proxy
frontend http
  mode http
  option forwardfor
  bind $LBC:8081
  default_backend http
backend http
  mode http
  server gw $GW_V4:$XF
EOF
HAP=$(lab_bg lb haproxy -db -f "$GW_TMP/haproxy.cfg") && GW_PIDS+=("$HAP") &&
	lab_wait_listen lb 8081 >/dev/null || { not_ok "haproxy starts" "$(tail -n 5 "$LAB_STATE/bg.log")"; exit 1; }

# req ID URL [CURL ARGS]: "CODE" of a chat request with x-request-id ID, from the client
req() {
	local id=$1 url=$2
	shift 2
	cl -o "$GW_TMP/body" -D "$GW_TMP/head" -w '%{http_code}' -H "x-request-id: $id" \
		-H 'content-type: application/json' "$@" \
		--data-binary '{"model":"m","messages":[{"role":"user","content":"hi"}]}' "$url/v1/chat/completions"
}
# from ROLE ID URL [CURL ARGS]: the same from another host
from() {
	local role=$1 id=$2 url=$3
	shift 3
	ip netns exec "$(lab_ns "$role")" curl -sS --max-time 10 -o "$GW_TMP/body" -D "$GW_TMP/head" \
		-w '%{http_code}' -H "x-request-id: $id" -H 'content-type: application/json' "$@" \
		--data-binary '{"model":"m","messages":[{"role":"user","content":"hi"}]}' "$url/v1/chat/completions"
}
origin() { jq -r --arg id "$1" 'select(.id == $id) | .origin.ip' "$AUDIT"; }
xff() { tr -d '\r' <"$GW_TMP/head" | awk 'tolower($1) == "x-mock-req-x-forwarded-for:" { $1 = ""; sub(/^ /, ""); print }'; }
proxy_failed() {
	curl -s --unix-socket "$GW_TMP/admin.sock" http://x/metrics | awk -v l="$1" '$1 == "sluice_proxy_header_failures_total{listener=\"" l "\"}" { print $2 }'
}

# --- PROXY v2 through HAProxy ---
is "v4 client via HAProxy send-proxy-v2: 200" "$(req v2a "http://$LBC:8080")" 200
is "... the audit's origin is the client, not the proxy" "$(origin v2a)" "$CL"
is "... the backend's X-Forwarded-For is the client" "$(xff)" "$CL"
is "v6 client via HAProxy send-proxy-v2 (TCP6): 200" "$(req v2b "http://[2001:db8:30::2]:8080" -g)" 200
is "... origin 2001:db8:30::1" "$(origin v2b)" "2001:db8:30::1"

# --- PROXY v1 before TLS ---
is "via HAProxy send-proxy to the TLS listener: 200" \
	"$(req v1a "https://api.test:9443" --resolve "api.test:9443:$LBC")" 200
is "... origin is the client" "$(origin v1a)" "$CL"

# --- X-Forwarded-For through HAProxy (option forwardfor) ---
is "HTTP mode with option forwardfor: 200" "$(req xf1 "http://$LBC:8081")" 200
is "... origin is the client" "$(origin xf1)" "$CL"
is "... backend gets client, proxy" "$(xff)" "$CL, $LB"
is "a client's own X-Forwarded-For left of what HAProxy adds: 200" \
	"$(req xf2 "http://$LBC:8081" -H 'X-Forwarded-For: 203.0.113.66')" 200
is "... is not believed: origin is the client" "$(origin xf2)" "$CL"
is "... and is not sent on" "$(xff)" "$CL, $LB"

# --- direct clients are not believed ---
is "a client's X-Forwarded-For straight to the xff listener: 200" \
	"$(req xf3 "http://$GW_V4:$XF" -H 'X-Forwarded-For: 203.0.113.66')" 200
is "... origin is its own address" "$(origin xf3)" "$CD"
is "... the backend's X-Forwarded-For too" "$(xff)" "$CD"
is "a direct client without PROXY header on a proxy_protocol listener: served as itself" \
	"$(req dir1 "http://$GW_V4:$PP")" 200
is "... origin is its own address" "$(origin dir1)" "$CD"
is "a direct client's spoofed PROXY v1 header (curl --haproxy-protocol) is not believed: 400" \
	"$(req dir2 "http://$GW_V4:$PP" --haproxy-protocol)" 400
is "... and nothing with its claimed origin was recorded" \
	"$(jq -r 'select(.origin.ip != "'"$CL"'" and .origin.ip != "2001:db8:30::1" and .origin.ip != "'"$CD"'") | .id' "$AUDIT" | grep -c .)" 0

# --- a trusted proxy's own headers ---
is "the proxy's recursive X-Forwarded-For (client, another trusted hop): 200" \
	"$(from lb xf4 "http://$GW_V4:$XF" -H 'X-Forwarded-For: 203.0.113.9, 198.18.3.77')" 200
is "... origin is the first untrusted hop from the right" "$(origin xf4)" 203.0.113.9
is "... chain sent on from the client" "$(xff)" "203.0.113.9, 198.18.3.77, $LB"
is "the proxy's X-Forwarded-For with a v6 entry and port: origin" \
	"$(from lb xf5 "http://$GW_V4:$XF" -H 'X-Forwarded-For: [2001:db8:77::5]:4711' >/dev/null; origin xf5)" 2001:db8:77::5
is "the proxy's X-Forwarded-For that is no address: 400" \
	"$(from lb xf6 "http://$GW_V4:$XF" -H 'X-Forwarded-For: not-an-ip')" 400
ok_if "... naming the value" grep -q 'x-forwarded-for: \\"not-an-ip\\" is not an address' "$GW_TMP/body"
before=$(proxy_failed pp)
is "a trusted proxy's connection without a PROXY header is closed" \
	"$(from lb nop "http://$GW_V4:$PP" 2>/dev/null)" 000
ip netns exec "$(lab_ns lb)" python3 - "$GW_V4" "$PP" <<'EOF'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(b"PROXY TCP4 198.51.100.1 198.18.1.1 99999 80\r\nGET / HTTP/1.1\r\n\r\n")
try:
    s.recv(100)
except ConnectionResetError:
    pass
EOF
is "... and one with a malformed v1 header (port 99999): counted as 2 failures" \
	"$(( $(proxy_failed pp) - before ))" 2
grep -q 'proxy_protocol=refused reason="PROXY v1: source port' "$GW_LOG"
ok_if "... the log names the field" test $? = 0
# PROXY v2 LOCAL (a health check): the connection's own address
ip netns exec "$(lab_ns lb)" python3 - "$GW_V4" "$PP" <<'EOF' >/dev/null
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
sig = b"\r\n\r\n\x00\r\nQUIT\n"
body = b'{"model":"m","messages":[{"role":"user","content":"hi"}]}'
s.sendall(sig + bytes([0x20, 0x00, 0, 0]) +
          b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nx-request-id: local1\r\n"
          b"content-type: application/json\r\nconnection: close\r\ncontent-length: %d\r\n\r\n" % len(body) + body)
while s.recv(65536):
    pass
EOF
is "a v2 LOCAL header (health check): the proxy's own address" "$(origin local1)" "$LB"

# --- limits and strikes land on the client behind the proxy ---
codes=""
# until the second verdict (a block) refuses it; bounded
for i in $(seq 80); do
	code=$(from attacker "rl$i" "http://198.18.31.2:8080")
	codes+="$code "
	[ "$code" = 403 ] && break
done
ok_if "the attacker behind HAProxy runs into its per-address limit (429s)" grep -q 429 <<<"$codes"
is "... and, blocked by its second verdict, is refused at L7 (its packets come from the proxy): 403 source_blocked" \
	"$(from attacker blk "http://198.18.31.2:8080") $(jq -r .error.code "$GW_TMP/body")" "403 source_blocked"
is "... while the client behind the same proxy is served" "$(req ok2 "http://$LBC:8080")" 200
tl=$(ctl -j throttle list 2>/dev/null)
ok_if "... the attacker's address is throttled after its strikes" \
	jq -e --arg a "$AT/32" 'map(select(.source == $a)) | length == 1' <<<"$tl"
ok_if "... and the proxy's is not" jq -e --arg a "$LB/32" 'map(select(.source == $a)) | length == 0' <<<"$tl"
