#!/usr/bin/env bash
# sluiced's edges, end to end: an IPv6 listener, Expect: 100-continue,
# pipelined requests answered in order, the header and body bounds (431,
# 413) and the time bounds (408 for a head or body that never completes),
# all without the refused bytes reaching the backend.
set -u
. "$(dirname "$0")/gw_lib.sh"

gw_start limits 90
B1=$(gw_host backend1)
gw_mock backend1 9000 --echo >/dev/null || { not_ok "mock backend1:9000"; exit 1; }
cat >"$GW_CFG" <<EOF
{
  "workers": 2,
  "listeners": [ { "name": "plain", "address": "$GW_V4:$GW_HTTP" },
                 { "name": "v6", "address": "[2001:db8:1::1]:$GW_HTTP" } ],
  "http": { "max_header_bytes": "2KiB", "max_body_bytes": "4KiB",
            "header_timeout": "1s", "body_timeout": "2s" },
  "pools": { "p": { "backends": [ { "url": "http://$B1:9000" } ] } },
  "routes": [ { "name": "all", "match": { "path": "/" }, "pool": "p" } ]
}
EOF
gw_sluiced "$GW_CFG" || exit 1
CHAT='{"model":"m","messages":[{"role":"user","content":"hi"}]}'
seen() { mstat backend1 9000 '.requests.total'; }

# raw SECONDS: the bytes on stdin to the plain listener, the answer on stdout;
# the sending side stays open SECONDS so sluiced does not take a half-close
# as the client leaving
raw() {
	{ cat; sleep "$1"; } | ip netns exec "$(lab_ns client)" timeout 5 \
		socat -t 3 - "TCP:$GW_V4:$GW_HTTP" 2>/dev/null
}

# --- IPv6 listener ---
code=$(ip netns exec "$(lab_ns client)" curl -sS --max-time 5 -o /dev/null -w '%{http_code}' \
	-H 'content-type: application/json' -d "$CHAT" "http://[2001:db8:1::1]:$GW_HTTP/v1/chat/completions")
is "v6: a request to the IPv6 listener is answered" "$code" 200
is "v6: the backend saw the client's v6 address in x-forwarded-for" \
	"$(mstat backend1 9000 '.last_request.headers[] | select(.[0] == "x-forwarded-for") | .[1]')" \
	"2001:db8:1::2"

# --- Expect: 100-continue: the interim answer, then the real one ---
out=$(printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n' "${#CHAT}" |
	{ cat; sleep 0.3; printf '%s' "$CHAT"; sleep 0.5; } |
	ip netns exec "$(lab_ns client)" timeout 5 socat -t 3 - "TCP:$GW_V4:$GW_HTTP" 2>/dev/null | tr -d '\r')
is "expect: 100 Continue comes before the body is sent" "$(sed -n 1p <<<"$out")" "HTTP/1.1 100 Continue"
is "expect: then the response" "$(grep -m1 '^HTTP/1.1 2' <<<"$out")" "HTTP/1.1 200 OK"

# --- Pipelining: two requests in one write, two answers in order ---
n0=$(seen)
one='{"model":"m","messages":[{"role":"user","content":"first"}]}'
two='{"model":"m","messages":[{"role":"user","content":"second"}]}'
out=$(printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%sPOST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
	"${#one}" "$one" "${#two}" "$two" | raw 1 | tr -d '\r')
is "pipelining: two answers" "$(grep -c '^HTTP/1.1 200' <<<"$out")" 2
is "pipelining: in the order asked" "$(grep -o 'first\|second' <<<"$out" | uniq | tr '\n' ' ')" "first second "
is "pipelining: both reached the backend" "$(($(seen) - n0))" 2

# --- Bounds: refused before the backend ---
n0=$(seen)
big=$(head -c 3000 /dev/zero | tr '\0' a)
code=$(cl -o /dev/null -w '%{http_code}' -H "x-big: $big" "$HTTP_URL/v1/models")
is "431: a head past max_header_bytes (2KiB)" "$code" 431
body=$(head -c 5000 /dev/zero | tr '\0' a)
code=$(cl -o /dev/null -w '%{http_code}' -H 'content-type: text/plain' -d "$body" "$HTTP_URL/v1/x")
is "413: a body past max_body_bytes (4KiB)" "$code" 413
code=$(printf '%s' "$body" | cl -o /dev/null -w '%{http_code}' -H 'transfer-encoding: chunked' \
	-H 'content-type: text/plain' --data-binary @- "$HTTP_URL/v1/x")
is "413: a chunked body past max_body_bytes" "$code" 413
is "bounds: nothing refused reached the backend" "$(($(seen) - n0))" 0

# --- Time bounds: 408, and the connection closed ---
out=$(printf 'POST /v1/x HTTP/1.1\r\nHost: gw\r\n' | raw 3 | tr -d '\r')
is "408: a head that never completes (header_timeout 1s)" "$(sed -n 1p <<<"$out")" "HTTP/1.1 408 Request Timeout"
out=$(printf 'POST /v1/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 100\r\n\r\nabc' | raw 4 | tr -d '\r')
is "408: a body that never completes" "$(sed -n 1p <<<"$out")" "HTTP/1.1 408 Request Timeout"
is "time bounds: nothing reached the backend" "$(($(seen) - n0))" 0
