#!/usr/bin/env bash
# TAP test of build/mockllm on loopback: "ok - name" / "not ok - name".
#
# Starts its own servers on 127.0.0.1 with ports the kernel picks
# (--port-file), exercises every endpoint, fault and counter with curl and
# jq, and stops them in an EXIT trap whatever happens.
#   MOCKLLM=path          binary to test (default $SLUICE_BUILD/mockllm or build/mockllm)
#   MOCKLLM_SDK_DIR=dir   a folder with node_modules/openai: also drive the mock with the
#                         official SDK (chat, stream, embeddings, errors); skipped without it
#   MOCKLLM_WRK_SECS=N    length of the wrk run (default 2; 0 skips it)
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MOCK=${MOCKLLM:-${SLUICE_BUILD:-$ROOT/build}/mockllm}
TMP=$(mktemp -d /tmp/mockllm-test.XXXXXX)
PIDS=()
COUNT=0
FAILED=0

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT

diag() { printf '# %s\n' "$*"; }
ok() { COUNT=$((COUNT + 1)); echo "ok - $1"; }
skip() { COUNT=$((COUNT + 1)); echo "ok - $1 # SKIP $2"; }
not_ok() {
	local l
	COUNT=$((COUNT + 1))
	FAILED=$((FAILED + 1))
	echo "not ok - $1"
	shift
	for l in "$@"; do diag "  $l"; done
}
is() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "got:  '$2'" "want: '$3'"; fi; }
ok_if() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name" "failed: $*"; fi
}
# float comparison in awk: ok_awk NAME 'EXPR using a b' A B
ok_awk() {
	if awk -v a="$3" -v b="${4:-0}" "BEGIN { exit !($2) }"; then ok "$1 ($3)"; else not_ok "$1" "got: '$3'" "want: $2"; fi
}

for t in curl jq; do
	command -v $t >/dev/null || { echo "not ok - mockllm: needs $t (make test-deps)"; exit 1; }
done
[ -x "$MOCK" ] || { echo "not ok - mockllm: $MOCK is not built"; exit 1; }

# start NAME ARGS..: a mock on 127.0.0.1:<free port>; sets URL_<NAME> and PID_<NAME>
start() {
	local name=$1 i pf=$TMP/$1.port
	shift
	"$MOCK" --listen 127.0.0.1:0 --port-file "$pf" "$@" 2>"$TMP/$name.log" &
	PIDS+=($!)
	printf -v "PID_$name" %s $!
	for i in $(seq 100); do
		[ -s "$pf" ] && break
		sleep 0.05
	done
	[ -s "$pf" ] || { echo "not ok - mockllm $name: did not start"; cat "$TMP/$name.log"; exit 1; }
	printf -v "URL_$name" %s "http://127.0.0.1:$(cat "$pf")"
}

start main --threads 2
U=$URL_main
CURL=(curl -s --max-time 10)
post() { "${CURL[@]}" -H 'Content-Type: application/json' "$@"; }
stat() { "${CURL[@]}" "$U/stats" | jq -r "$1"; }
# wait_stat JQ WANT: the server counts a client's close when it sees it, a moment later
wait_stat() {
	local i v
	for i in $(seq 40); do
		v=$(stat "$1")
		[ "$v" = "$2" ] && break
		sleep 0.05
	done
	echo "$v"
}

# ---- chat ----
CHAT='{"model":"gpt-test","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hello  mock\tworld"}]}'
r=$(post "$U/v1/chat/completions" -d "$CHAT")
is "chat: content echoes the last user message" "$(jq -r '.choices[0].message.content' <<<"$r")" "echo: hello mock world"
is "chat: model echoed back" "$(jq -r .model <<<"$r")" "gpt-test"
is "chat: usage counts words (prompt 5, completion 4, total 9)" \
	"$(jq -c '[.usage.prompt_tokens,.usage.completion_tokens,.usage.total_tokens]' <<<"$r")" "[5,4,9]"
is "chat: finish_reason stop, object chat.completion" \
	"$(jq -r '.choices[0].finish_reason + " " + .object' <<<"$r")" "stop chat.completion"
r2=$(post "$U/v1/chat/completions" -d "$CHAT")
is "chat: same request, same bytes" "$r2" "$r"
r=$(post "$U/v1/chat/completions" -d '{"max_tokens":2,"messages":[{"role":"user","content":"a b c d"}]}')
is "chat: max_tokens cuts the reply (finish length)" \
	"$(jq -r '.choices[0].message.content + "|" + .choices[0].finish_reason' <<<"$r")" "echo: a|length"
r=$(post "$U/v1/chat/completions" -H 'x-mock-tokens: 3' -d '{"messages":[]}')
is "chat: x-mock-tokens gives tok1..tokN" "$(jq -r '.choices[0].message.content' <<<"$r")" "tok1 tok2 tok3"

# ---- chat streaming ----
post -N "$U/v1/chat/completions" -d '{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"one two three"}]}' >"$TMP/sse"
grep '^data: ' "$TMP/sse" | sed 's/^data: //' >"$TMP/data"
is "stream: last event is [DONE]" "$(tail -1 "$TMP/data")" "[DONE]"
u=$(tail -2 "$TMP/data" | head -1)
is "stream: usage chunk before [DONE] has empty choices and the usage" \
	"$(jq -c '[(.choices|length),.usage.prompt_tokens,.usage.completion_tokens,.usage.total_tokens]' <<<"$u")" "[0,3,4,7]"
is "stream: deltas concatenate to the reply" \
	"$(grep -v DONE "$TMP/data" | jq -j '.choices[0].delta.content // empty')" "echo: one two three"
is "stream: other chunks carry usage:null" \
	"$(grep -v DONE "$TMP/data" | head -n -1 | jq -r '.usage' | sort -u)" "null"
is "stream: one finish_reason, stop" "$(grep -v DONE "$TMP/data" | jq -r '.choices[0].finish_reason // empty')" "stop"
post -N "$U/v1/chat/completions" -d '{"stream":true,"messages":[{"role":"user","content":"x"}]}' >"$TMP/sse2"
is "stream: no usage chunk without include_usage" "$(grep -c usage "$TMP/sse2")" "0"

# paced: 5 tokens 60 ms apart; the first event must arrive long before the last
t=$(post -N -o "$TMP/sse3" -w '%{time_starttransfer} %{time_total}' -H 'x-mock-tokens: 5' \
	-H 'x-mock-token-interval: 60ms' "$U/v1/chat/completions" -d '{"stream":true,"messages":[]}')
ok_awk "stream: 5 tokens at 60ms take >= 0.3 s" 'a >= 0.29 && a < 3' "${t#* }"
ok_awk "stream: first byte before the tokens (flushed as produced)" 'a < 0.1' "${t% *}"
is "stream: 5 token chunks" "$(grep -c '"content":"[ ]*tok' "$TMP/sse3")" "5"

# ---- echo ----
BODY=$'{"model":"e","messages":[{"role":"user","content":"tab\there  \\u00e9 \\"q\\""}],"extra":[1,2.50,null]}'
r=$("${CURL[@]}" -D "$TMP/hdr" "$U/v1/chat/completions" -H 'x-mock-echo: 1' -H 'Authorization: Bearer sk-test' \
	-H 'X-Request-Id: rid-1' -H 'Content-Type: application/json' --data-binary "$BODY")
is "echo: content is exactly the request body" "$(jq -j '.choices[0].message.content' <<<"$r")" "$BODY"
is "echo: authorization echoed as x-mock-req-authorization" \
	"$(tr -d '\r' <"$TMP/hdr" | sed -n 's/^x-mock-req-authorization: //p')" "Bearer sk-test"
is "echo: x-request-id and body size echoed" \
	"$(tr -d '\r' <"$TMP/hdr" | sed -n 's/^x-mock-req-x-request-id: //p;s/^x-mock-body-bytes: //p' | paste -sd,)" \
	"${#BODY},rid-1"
is "echo: /stats last_request has the body" "$(stat '.last_request.body')" "$BODY"
is "echo: /stats last_request has the headers" \
	"$(stat '.last_request.headers[] | select(.[0]=="Authorization") | .[1]')" "Bearer sk-test"

# ---- other text APIs ----
r=$(post "$U/v1/completions" -d '{"model":"c","prompt":"say this"}')
is "completions: text and usage" "$(jq -c '[.choices[0].text,.usage.prompt_tokens,.object]' <<<"$r")" \
	'["echo: say this",2,"text_completion"]'
r=$(post "$U/v1/responses" -d '{"model":"r","input":"hi there"}')
is "responses: output_text and usage" \
	"$(jq -c '[.output[0].content[0].text,.usage.input_tokens,.usage.output_tokens,.status]' <<<"$r")" \
	'["echo: hi there",2,3,"completed"]'
r=$(post "$U/v1/messages" -d '{"model":"claude-x","max_tokens":64,"system":"sys","messages":[{"role":"user","content":[{"type":"text","text":"hey you"}]}]}')
is "messages: Anthropic shape" \
	"$(jq -c '[.type,.role,.content[0].type,.content[0].text,.stop_reason,.usage.input_tokens,.usage.output_tokens]' <<<"$r")" \
	'["message","assistant","text","echo: hey you","end_turn",3,3]'
post -N "$U/v1/messages" -d '{"model":"claude-x","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"a b"}]}' >"$TMP/msse"
is "messages stream: event order" "$(sed -n 's/^event: //p' "$TMP/msse" | uniq | paste -sd' ')" \
	"message_start content_block_start content_block_delta content_block_stop message_delta message_stop"
is "messages stream: 3 deltas, each data type matches its event" \
	"$(grep -c '^event: content_block_delta' "$TMP/msse"),$(paste -d' ' <(sed -n 's/^event: //p' "$TMP/msse") <(sed -n 's/^data: //p' "$TMP/msse" | jq -r .type) | awk '$1 != $2' | wc -l)" "3,0"
is "messages stream: text deltas concatenate" \
	"$(sed -n 's/^data: //p' "$TMP/msse" | jq -j 'select(.type=="content_block_delta") | .delta.text')" "echo: a b"

# ---- embeddings, models ----
r=$(post "$U/v1/embeddings" -d '{"model":"emb","input":["alpha beta","gamma"],"dimensions":16}')
is "embeddings: 2 vectors of 16, usage 3" "$(jq -c '[(.data|length),(.data[0].embedding|length),(.data[1].embedding|length),.usage.prompt_tokens]' <<<"$r")" "[2,16,16,3]"
ok_awk "embeddings: unit length" 'a > 0.999 && a < 1.001' "$(jq '[.data[0].embedding[]|.*.]|add' <<<"$r")"
r2=$(post "$U/v1/embeddings" -d '{"model":"emb","input":"gamma","dimensions":16}')
is "embeddings: a vector depends on its input only" "$(jq -c '.data[0].embedding' <<<"$r2")" "$(jq -c '.data[1].embedding' <<<"$r")"
r3=$(post "$U/v1/embeddings" -d '{"input":"gamma","dimensions":16,"encoding_format":"base64"}')
n=$(jq -r '.data[0].embedding' <<<"$r3" | base64 -d | wc -c)
is "embeddings: base64 is 16 float32" "$n" "64"
is "embeddings: default dims 8" "$(post "$U/v1/embeddings" -d '{"input":"x"}' | jq '.data[0].embedding|length')" "8"
is "models: default list" "$("${CURL[@]}" "$U/v1/models" | jq -c '[.object,.data[].id]')" '["list","mock-model"]'
is "models: unknown id is 404" "$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$U/v1/models/nope")" "404"

# ---- errors ----
r=$(post -w '\n%{http_code}' "$U/v1/chat/completions" -d '{"messages": [')
is "bad JSON: 400" "$(tail -1 <<<"$r")" "400"
is "bad JSON: OpenAI error shape" "$(head -1 <<<"$r" | jq -c '.error | [.type, .code, has("message"), has("param")]')" \
	'["invalid_request_error","invalid_json",true,true]'
is "bad JSON on /v1/messages: Anthropic error shape" \
	"$(post "$U/v1/messages" -d 'nope' | jq -c '[.type,.error.type]')" '["error","invalid_request_error"]'
is "messages not an array: 400 with param" \
	"$(post "$U/v1/chat/completions" -d '{"messages":3}' | jq -r .error.param)" "messages"
is "unknown path: 404" "$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$U/v2/nothing")" "404"
is "bad x-mock-fault: 400 naming the term" \
	"$(post "$U/v1/models" -H 'x-mock-fault: delay=5' | jq -r .error.message)" \
	"fault 'delay=5': expected a duration such as 200ms"

# ---- faults ----
r=$(post -w ' %{http_code}' -H 'x-mock-fault: status=503' "$U/v1/chat/completions" -d "$CHAT")
is "fault status=503: status and error type" "$(jq -r .error.type <<<"${r% *}") ${r##* }" "server_error 503"
t=$(post -o /dev/null -w '%{time_total}' -H 'x-mock-fault: delay=300ms' "$U/v1/chat/completions" -d "$CHAT")
ok_awk "fault delay=300ms: measured" 'a >= 0.29 && a < 2' "$t"
post -N -H 'x-mock-fault: reset-after=3' -H 'x-mock-token-interval: 10ms' "$U/v1/chat/completions" \
	-d '{"stream":true,"messages":[{"role":"user","content":"a b c d e f g h"}]}' >"$TMP/reset"
rc=$?
is "fault reset-after=3: curl sees a reset (exit 56)" "$rc" "56"
is "fault reset-after=3: 3 token chunks arrived first" "$(grep -c '"content":"[ ]*[a-z]' "$TMP/reset")" "3"
post -N -H 'x-mock-fault: close-after=2' "$U/v1/chat/completions" \
	-d '{"stream":true,"messages":[{"role":"user","content":"a b c d"}]}' >/dev/null
is "fault close-after=2: curl sees a truncated body (exit 18)" "$?" "18"
a0=$(stat .requests.aborted)
post -m 0.5 -H 'x-mock-fault: hang' "$U/v1/chat/completions" -d "$CHAT" >/dev/null
is "fault hang: no answer (curl times out, exit 28)" "$?" "28"
is "fault hang: the client leaving counts as aborted" "$(wait_stat .requests.aborted $((a0 + 1)))" "$((a0 + 1))"
t=$(post -o "$TMP/drip" -w '%{time_total}' -H 'x-mock-fault: drip=2ms/8' "$U/v1/models")
ok_awk "fault drip=2ms/8: ~200 bytes take >= 40 ms" 'a >= 0.04 && a < 5' "$t"
is "fault drip: body intact" "$(jq -r '.data[0].id' "$TMP/drip")" "mock-model"
is "fault via /admin/fault applies to all /v1" \
	"$(post "$U/admin/fault" -d 'status=429' | jq -r .fault) $("${CURL[@]}" -o /dev/null -w '%{http_code}' "$U/v1/models")" \
	"status=429 429"
is "fault: x-mock-fault none overrides the global one" \
	"$("${CURL[@]}" -o /dev/null -w '%{http_code}' -H 'x-mock-fault: none' "$U/v1/models")" "200"
is "fault: /health is never faulted" "$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$U/health")" "200"
post "$U/admin/fault" -d '' >/dev/null
is "fault: cleared" "$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$U/v1/models")" "200"

# client leaves mid-stream
s0=$(stat .streams.aborted)
post -N -m 0.3 -H 'x-mock-tokens: 100' -H 'x-mock-token-interval: 20ms' "$U/v1/chat/completions" \
	-d '{"stream":true,"messages":[]}' >/dev/null
is "client closing mid-stream counts streams.aborted" "$(wait_stat .streams.aborted $((s0 + 1)))" "$((s0 + 1))"

# ---- health ----
h() { "${CURL[@]}" -o /dev/null -w '%{http_code}' "$U/health"; }
h1=$(h)
"${CURL[@]}" -X POST "$U/admin/health?state=down" >/dev/null
h2=$(h)
"${CURL[@]}" -X POST "$U/admin/health" -d up >/dev/null
is "health: 200, down 503, up 200" "$h1 $h2 $(h)" "200 503 200"

# ---- /stats ----
"${CURL[@]}" -X POST "$U/admin/reset" >/dev/null
for i in 1 2 3; do post "$U/v1/chat/completions" -d "$CHAT" >/dev/null; done
post -N "$U/v1/chat/completions" -d '{"stream":true,"messages":[]}' >/dev/null
"${CURL[@]}" "$U/health" >/dev/null
is "stats: per path and total (stats/admin not counted)" \
	"$(stat '[.requests.total, .requests.by_path["/v1/chat/completions"], .requests.by_path["/health"], .requests.by_status["200"]] | @csv')" \
	"5,4,1,5"
is "stats: streams started and completed" "$(stat '[.streams.started,.streams.completed]|@csv')" "1,1"
is "stats: nothing in flight" "$(stat .requests.in_flight)" "0"

# ---- keep-alive ----
c0=$(stat .connections.accepted)
n=$("${CURL[@]}" -o /dev/null -o /dev/null -w '%{num_connects} ' "$U/v1/models" "$U/health")
c1=$(stat .connections.accepted)
is "keep-alive: two URLs, one connection (curl: 1 then 0 connects)" "$n" "1 0 "
is "keep-alive: server accepted 2 (that curl and this /stats)" "$((c1 - c0))" "2"

# ---- HTTP framing ----
# raw BYTES: sends BYTES (Python escapes) on one connection, prints the answer up to the close
cat >"$TMP/raw.py" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin1"))
s.settimeout(3)
out = b""
try:
	while True:
		d = s.recv(65536)
		if not d:
			break
		out += d
except socket.timeout:
	pass
sys.stdout.write(out.decode("latin1"))
EOF
raw() { python3 "$TMP/raw.py" "${U##*:}" "$1"; }
B='{"messages":[{"role":"user","content":"piped"}]}'
r=$(raw "POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Length: ${#B}\r\n\r\n${B}GET /health HTTP/1.1\r\nHost: t\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
is "pipelining: three requests in one write, three answers in order" \
	"$(grep -o '^HTTP/1.1 [0-9]*\|"object":"chat.completion"\|"object":"list"\|"status":"ok"' <<<"$r" | paste -sd' ')" \
	'HTTP/1.1 200 "object":"chat.completion" HTTP/1.1 200 "status":"ok" HTTP/1.1 200 "object":"list"'
r=$(raw "POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5;ext=1\r\n${B:0:5}\r\n$(printf %x $((${#B} - 5)))\r\n${B:5}\r\n0\r\nX-Trailer: 1\r\n\r\n")
is "chunked request body (extension, trailer) decoded" "$(tail -1 <<<"$r" | jq -r '.choices[0].message.content')" "echo: piped"
r=$(raw "POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n")
is "Transfer-Encoding with Content-Length: 400" "$(head -1 <<<"$r" | tr -d '\r')" "HTTP/1.1 400 Bad Request"
r=$(raw "GET /health HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n  folded\r\n\r\n")
is "obs-fold: 400" "$(head -1 <<<"$r" | tr -d '\r')" "HTTP/1.1 400 Bad Request"
printf '{"messages":[{"role":"user","content":"%s"}]}' "$(printf '%*s' 4000 '' | tr ' ' 'z')" >"$TMP/4k.json"
t=$(post -o /dev/null -w '%{time_total}' -H 'Expect: 100-continue' --data-binary @"$TMP/4k.json" "$U/v1/chat/completions")
ok_awk "Expect: 100-continue answered at once (curl waits 1 s otherwise)" 'a < 0.5' "$t"
r=$(post -H 'Transfer-Encoding: chunked' -H 'x-mock-echo: 1' --data-binary @"$TMP/4k.json" "$U/v1/chat/completions")
is "curl's chunked upload echoed exactly" "$(jq -j '.choices[0].message.content' <<<"$r")" "$(cat "$TMP/4k.json")"

# ---- flags: --echo, --models, --fail-health, --fault, --tokens ----
start flags --threads 1 --echo --models alpha,beta,gamma --fail-health --fault delay=100ms --tokens 4
F=$URL_flags
is "--models: listed" "$("${CURL[@]}" "$F/v1/models" | jq -r '[.data[].id]|join(",")')" "alpha,beta,gamma"
is "--fail-health: 503" "$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$F/health")" "503"
B2='{"model":"alpha","messages":[{"role":"user","content":"x"}]}'
r=$("${CURL[@]}" -w '\n%{time_total}' "$F/v1/messages" --data-binary "$B2")
is "--echo: Anthropic text is the body" "$(head -1 <<<"$r" | jq -j '.content[0].text')" "$B2"
ok_awk "--fault delay=100ms: applied" 'a >= 0.09' "$(tail -1 <<<"$r")"
is "--tokens 4: x-mock-echo: 0 turns --echo off, the reply is tok1..tok4" \
	"$("${CURL[@]}" -H 'x-mock-echo: 0' "$F/v1/chat/completions" -d '{"messages":[]}' | jq -r '.choices[0].message.content')" \
	"tok1 tok2 tok3 tok4"
kill -TERM "$PID_flags"
wait "$PID_flags"
is "SIGTERM: clean exit 0" "$?" "0"

# ---- SDK ----
if [ -n "${MOCKLLM_SDK_DIR:-}" ] && [ -d "$MOCKLLM_SDK_DIR/node_modules/openai" ] && command -v node >/dev/null; then
	cat >"$TMP/sdk.mjs" <<'EOF'
import { createRequire } from 'module';
const require = createRequire(process.env.MOCKLLM_SDK_DIR + '/');
const OpenAI = require('openai');
const Client = OpenAI.default || OpenAI;
const c = new Client({ baseURL: process.env.URL + '/v1', apiKey: 'sk-mock', maxRetries: 0 });
const out = {};
const chat = await c.chat.completions.create({ model: 'gpt-sdk', messages: [{ role: 'user', content: 'hi sdk' }] });
out.chat = chat.choices[0].message.content;
const st = await c.chat.completions.create({ model: 'gpt-sdk', stream: true, stream_options: { include_usage: true },
	messages: [{ role: 'user', content: 'streamed words here' }] });
let text = '', usage = null;
for await (const ch of st) { if (ch.choices[0]) text += ch.choices[0].delta.content || ''; if (ch.usage) usage = ch.usage; }
out.stream = text;
out.usage = usage && usage.total_tokens;
const e = await c.embeddings.create({ model: 'emb', input: ['a', 'b c'] });
out.emb = e.data.length + 'x' + e.data[0].embedding.length;
try {
	await c.chat.completions.create({ model: 'x', messages: [] }, { headers: { 'x-mock-fault': 'status=429' } });
	out.err = 'none';
} catch (err) { out.err = err.status + ' ' + (err.constructor && err.constructor.name); }
console.log(JSON.stringify(out));
EOF
	r=$(URL=$U MOCKLLM_SDK_DIR=$MOCKLLM_SDK_DIR timeout 60 node "$TMP/sdk.mjs" 2>&1)
	diag "openai SDK $(jq -r .version "$MOCKLLM_SDK_DIR/node_modules/openai/package.json"): $r"
	is "openai SDK: chat, stream, usage, embeddings, 429 error" \
		"$(jq -c '[.chat,.stream,.usage,.emb,.err]' <<<"$r" 2>/dev/null)" \
		'["echo: hi sdk","echo: streamed words here",7,"2x8","429 RateLimitError"]'
else
	skip "openai SDK" "set MOCKLLM_SDK_DIR to a folder with node_modules/openai"
fi
if [ -n "${MOCKLLM_SDK_DIR:-}" ] && [ -d "$MOCKLLM_SDK_DIR/node_modules/@anthropic-ai/sdk" ] && command -v node >/dev/null; then
	cat >"$TMP/anthropic.mjs" <<'EOF'
import { createRequire } from 'module';
const require = createRequire(process.env.MOCKLLM_SDK_DIR + '/');
const sdk = require('@anthropic-ai/sdk');
const Anthropic = sdk.default || sdk.Anthropic || sdk;
const c = new Anthropic({ baseURL: process.env.URL, apiKey: 'k-mock', maxRetries: 0 });
const out = {};
const m = await c.messages.create({ model: 'claude-sdk', max_tokens: 64, messages: [{ role: 'user', content: 'hi claude' }] });
out.text = m.content[0].text;
const s = c.messages.stream({ model: 'claude-sdk', max_tokens: 64, messages: [{ role: 'user', content: 'stream this' }] });
let t = '';
s.on('text', (d) => { t += d; });
const fin = await s.finalMessage();
out.stream = t + '|' + fin.stop_reason + '|' + fin.usage.output_tokens;
console.log(JSON.stringify(out));
EOF
	r=$(URL=$U MOCKLLM_SDK_DIR=$MOCKLLM_SDK_DIR timeout 60 node "$TMP/anthropic.mjs" 2>&1)
	diag "@anthropic-ai/sdk $(jq -r .version "$MOCKLLM_SDK_DIR/node_modules/@anthropic-ai/sdk/package.json"): $r"
	is "anthropic SDK: messages and stream" "$(jq -c '[.text,.stream]' <<<"$r" 2>/dev/null)" \
		'["echo: hi claude","echo: stream this|end_turn|3"]'
else
	skip "anthropic SDK" "set MOCKLLM_SDK_DIR to a folder with node_modules/@anthropic-ai/sdk"
fi

# ---- throughput ----
secs=${MOCKLLM_WRK_SECS:-2}
if command -v wrk >/dev/null && [ "$secs" != 0 ]; then
	pad=$(printf '%*s' 900 '' | tr ' ' 'w')
	cat >"$TMP/post.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"bench","max_tokens":16,"messages":[{"role":"system","content":"$pad"},{"role":"user","content":"benchmark this request please"}]}'
EOF
	wrk -t1 -c16 -d"${secs}s" -s "$TMP/post.lua" "$U/v1/chat/completions" >"$TMP/wrk" 2>&1
	rps=$(awk '/^Requests\/sec:/ { print $2 }' "$TMP/wrk")
	diag "wrk -t1 -c16 -d${secs}s, 1 KB chat POST, mockllm --threads 2: ${rps:-?} req/s," \
		"latency $(awk '/^    Latency/ { print "avg " $2 ", stdev " $3 ", max " $4 }' "$TMP/wrk")"
	if [ -n "$rps" ] && ! grep -q 'Non-2xx\|Socket errors' "$TMP/wrk"; then
		ok "wrk: keep-alive POSTs all answered 200 (${rps} req/s)"
	else
		not_ok "wrk: keep-alive POSTs all answered 200" "$(cat "$TMP/wrk")"
	fi
else
	skip "wrk" "wrk not installed or MOCKLLM_WRK_SECS=0"
fi

kill -TERM "$PID_main"
wait "$PID_main"
is "SIGTERM under keep-alive connections: clean exit 0" "$?" "0"
PIDS=()
if grep -q 'Sanitizer\|runtime error' "$TMP"/*.log; then
	not_ok "sanitizers: clean" "$(grep -h -A5 'Sanitizer\|runtime error' "$TMP"/*.log | head -20)"
fi
echo "1..$COUNT"
exit $((FAILED > 0))
