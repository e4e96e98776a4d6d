#!/usr/bin/env bash
# Streaming through sluiced: SSE events reach the client as the backend
# sends them (timestamps, not only content), the usage chunk and [DONE]
# come last, Anthropic's events keep their order, and a client that leaves
# mid-stream (or before the response head) has its upstream request
# aborted at once.
set -u
. "$(dirname "$0")/gw_lib.sh"

gw_start stream 90
M=9000
N=20
gw_mock backend1 $M --token-interval 50ms >/dev/null || { not_ok "mock on backend1"; exit 1; }
cat >"$GW_CFG" <<EOF
{
  "workers": 2,
$(gw_listeners),
  "pools": { "slow": { "backends": [ { "url": "http://$(gw_host backend1):$M" } ] } },
  "routes": [ { "name": "v1", "match": { "path": "/v1/" }, "pool": "slow" } ]
}
EOF
gw_sluiced "$GW_CFG" || exit 1

# sse URL BODY [CURL ARGS]: streams with curl -N in the client namespace and
# prints one JSON object: the HTTP status and content type, and each SSE
# data line with the ms since the request was sent.
sse() {
	local url=$1 body=$2
	shift 2
	ip netns exec "$(lab_ns client)" python3 - "$url" "$body" "$GW_CA" "$@" <<'EOF'
import json, subprocess, sys, time
url, body, ca, extra = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
cmd = ["curl", "-sSN", "--max-time", "20", "--cacert", ca, "--resolve", "api.test:8443:198.18.1.1",
       "-H", "content-type: application/json", "-d", body, "-w", "\n#%{http_code} %{content_type}\n"] + extra + [url]
t0 = time.monotonic()
# curl's own complaint (the timeouts asked for) is not news
p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
ev, status, ctype, name = [], None, None, None
for line in p.stdout:
    ms = round((time.monotonic() - t0) * 1000)
    line = line.rstrip("\n")
    if line.startswith("event:"):
        name = line[6:].strip()
    elif line.startswith("data:"):
        ev.append({"ms": ms, "event": name, "data": line[5:].strip()})
        name = None
    elif line.startswith("#"):
        status, _, ctype = line[1:].partition(" ")
p.wait()
print(json.dumps({"status": status, "ctype": ctype, "events": ev}))
EOF
}

chat() { printf '{"model":"m","stream":true,%s"messages":[{"role":"user","content":"hi"}]}' "${1:-}"; }

# --- OpenAI chat stream over TLS ---
s=$(sse "$TLS_URL/v1/chat/completions" "$(chat '"stream_options":{"include_usage":true},')" -H "x-mock-tokens: $N")
is "stream: 200 text/event-stream" "$(jq -r '"\(.status) \(.ctype)"' <<<"$s")" "200 text/event-stream"
# The content events: [{ms, c: the delta's text}]
content() {
	jq -c '[.events[] | select(.data != "[DONE]") | {ms, c: (.data | fromjson | .choices[0].delta.content // "")} | select(.c != "")]' <<<"$s"
}
is "stream: one event per token, $N content events" "$(content | jq length)" "$N"
is "stream: the deltas concatenate to the text" "$(content | jq -r 'map(.c) | join("")')" \
	"$(seq -f 'tok%g' 1 $N | paste -sd ' ')"
first=$(content | jq '.[0].ms')
lastms=$(content | jq '.[-1].ms')
diag "first content event at ${first} ms, last at ${lastms} ms"
between "stream: the first token arrives early (ms after the request)" "$first" 0 400
between "stream: the last token arrives $(((N - 1) * 50)) ms of token intervals later (ms between first and last)" \
	$((lastms - first)) $(((N - 1) * 50 * 8 / 10)) $(((N - 1) * 50 * 3))
# A busy client may read two lines at once now and then; a buffering proxy delivers most together
between "stream: tokens arrive one by one (gaps under 20 ms, of $((N - 1)))" \
	"$(content | jq '[range(1; length) as $i | .[$i].ms - .[$i - 1].ms | select(. < 20)] | length')" 0 3
is "stream: half the tokens are in by the middle of the stream (not delivered in bursts)" \
	"$(content | jq --argjson mid $(((first + lastms) / 2)) '[.[] | select(.ms <= $mid)] | length | . >= 8 and . <= 12')" true
is "stream: the usage chunk comes right before [DONE], with empty choices and $N completion tokens" \
	"$(jq -c '.events[-2].data | fromjson | [.choices, .usage.completion_tokens]' <<<"$s")" "[[],$N]"
is "stream: [DONE] is the last event" "$(jq -r '.events[-1].data' <<<"$s")" "[DONE]"
is "stream: the finish_reason chunk precedes the usage chunk" \
	"$(jq -r '.events[-3].data | fromjson | .choices[0].finish_reason' <<<"$s")" "stop"
s=$(sse "$TLS_URL/v1/chat/completions" "$(chat)" -H "x-mock-tokens: 3" -H "x-mock-token-interval: 0")
is "stream without include_usage: no usage chunk, [DONE] last" \
	"$(jq -c '[([.events[] | select(.data != "[DONE]") | .data | fromjson | select(.usage != null)] | length), .events[-1].data]' <<<"$s")" \
	'[0,"[DONE]"]'

# --- Plain listener, legacy completions ---
s=$(sse "$HTTP_URL/v1/completions" '{"model":"m","stream":true,"prompt":"p"}' -H "x-mock-tokens: 5")
is "plain listener: /v1/completions streams 5 tokens, [DONE] last" \
	"$(jq -c '[([.events[] | select(.data != "[DONE]") | .data | fromjson | select((.choices[0].text // "") != "")] | length), .events[-1].data]' <<<"$s")" \
	'[5,"[DONE]"]'

# --- Anthropic messages stream ---
s=$(sse "$TLS_URL/v1/messages" '{"model":"claude-x","max_tokens":6,"stream":true,"messages":[{"role":"user","content":"hi"}]}' \
	-H "x-mock-tokens: 100" -H "anthropic-version: 2023-06-01")
is "messages stream: events in order" \
	"$(jq -r '[.events[].event] | join(" ")' <<<"$s")" \
	"message_start content_block_start $(printf 'content_block_delta %.0s' 1 2 3 4 5 6)content_block_stop message_delta message_stop"
is "messages stream: each event's data names its type" \
	"$(jq '[.events[] | (.data | fromjson | .type) == .event] | all' <<<"$s")" true
between "messages stream: 6 deltas spread over the token intervals (ms first to last)" \
	"$(jq '[.events[] | select(.event == "content_block_delta") | .ms] | .[-1] - .[0]' <<<"$s")" 200 750

# --- A client that leaves mid-stream ---
st() { mstat backend1 $M "$1"; }
a0=$(st .requests.aborted)
sa0=$(st .streams.aborted)
s=$(sse "$TLS_URL/v1/chat/completions" "$(chat)" -H "x-mock-tokens: 60" --max-time 0.7)
got=$(jq '[.events[] | select(.data != "[DONE]")] | length' <<<"$s")
between "disconnect: the client got part of the stream before leaving (events)" "$got" 3 30
ms=$(wait_for 3 eval '[ "$(st .requests.aborted)" -gt "$a0" ]')
between "disconnect: the mock sees the request aborted soon after the client left (ms)" "${ms:-9999}" 0 1000
ms=$(wait_for 3 eval '[ "$(st .requests.in_flight)" = 0 ]')
between "disconnect: nothing left in flight at the mock (ms until in_flight = 0)" "${ms:-9999}" 0 1000
is "disconnect: counted once as an aborted request and an aborted stream" \
	"$(($(st .requests.aborted) - a0)) $(($(st .streams.aborted) - sa0))" "1 1"

# Before the response head: the mock is still in its delay
a0=$(st .requests.aborted)
code=$(cl -o /dev/null -w '%{http_code}' --max-time 0.5 -H 'x-mock-fault: delay=3s' -H 'content-type: application/json' \
	-d "$(chat)" "$TLS_URL/v1/chat/completions" 2>/dev/null)
is "disconnect before the head: the client timed out with no response" "$code" "000"
ms=$(wait_for 3 eval '[ "$(st .requests.aborted)" -gt "$a0" ] && [ "$(st .requests.in_flight)" = 0 ]')
between "disconnect before the head: the upstream request is aborted within 1 s (ms)" "${ms:-9999}" 0 1000

# The plain listener too, and the gateway still serves afterwards
a0=$(st .requests.aborted)
s=$(sse "$HTTP_URL/v1/chat/completions" "$(chat)" -H "x-mock-tokens: 60" --max-time 0.5)
ms=$(wait_for 3 eval '[ "$(st .requests.aborted)" -gt "$a0" ] && [ "$(st .requests.in_flight)" = 0 ]')
between "disconnect on the plain listener: aborted upstream within 1 s (ms)" "${ms:-9999}" 0 1000
s=$(sse "$TLS_URL/v1/chat/completions" "$(chat)" -H "x-mock-tokens: 4")
is "after the disconnects a new stream completes" "$(jq -r '.events[-1].data' <<<"$s")" "[DONE]"
