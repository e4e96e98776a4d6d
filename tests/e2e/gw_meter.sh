#!/usr/bin/env bash
# Streams the gateway accounts for, end to end: an OpenAI stream that did
# not ask for its usage is asked for it (stream_options.include_usage) and
# the client never sees the answer to that; a client that asked keeps its
# usage chunk; a stream with no max_tokens is cut at its reservation with
# finish_reason "length" and [DONE], the backend's request aborted; and 50
# concurrent streams against a 10,000 tokens a minute budget spend no more
# than the budget.
set -u
. "$(dirname "$0")/gw_lib.sh"

gw_start meter 120
B1=$(gw_host backend1)
gw_mock backend1 9000 >/dev/null || { not_ok "mock backend1:9000"; exit 1; }
AUDIT=$GW_TMP/audit.jsonl
cat >"$GW_CFG" <<EOF
{
  "workers": 2,
$(gw_listeners),
  "pools": { "p": { "backends": [ { "url": "http://$B1:9000" } ] } },
  "routes": [ { "name": "budget", "match": { "path": "/", "model": "budget-*" }, "pool": "p",
                "limits": { "tokens_per_minute": 10000 } },
              { "name": "chat", "match": { "path": "/" }, "pool": "p" } ],
  "limits": { "per_address": { "tokens_per_minute": 1000000 }, "default_max_tokens": 40 },
  "tokenizer": { "models": [ { "model": "*", "encoding": "o200k_base" } ] },
  "audit": { "path": "$AUDIT", "sync": "always" }
}
EOF
gw_sluiced "$GW_CFG" || exit 1

# stream BODY [CURL ARGS]: the SSE data lines of a streamed chat, one a line
stream() {
	local body=$1
	shift
	cl -N -H 'content-type: application/json' --data-binary "$body" "$@" \
		"$HTTP_URL/v1/chat/completions" | tr -d '\r' | sed -n 's/^data: //p'
}
chunks() { grep -v '^\[DONE\]$' <<<"$1"; }
# body MODEL [MEMBERS [TEXT]]: a streamed chat; the mock answers "echo:" and
# the words of TEXT, a word an event: " a" is one o200k token
body() {
	printf '{"model":"%s","stream":true,%s"messages":[{"role":"user","content":"%s"}]}' \
		"$1" "${2:-}" "${3:-one two three}"
}
A500=$(printf 'a %.0s' $(seq 500))

# --- include_usage asked for, the answer hidden ---
stream "$(body gpt-4o)" -H 'x-mock-echo: 1' >/dev/null
is "injected: the backend was asked for the stream's usage" \
	"$(mstat backend1 9000 '.last_request.body | fromjson | .stream_options.include_usage')" true
s=$(stream "$(body gpt-4o)" -H 'x-mock-tokens: 5')
is "injected: the stream ends with [DONE]" "$(tail -n1 <<<"$s")" "[DONE]"
is "injected: no chunk the client sees has a usage member" \
	"$(chunks "$s" | jq -s 'map(select(has("usage"))) | length')" 0
is "injected: no chunk with empty choices" \
	"$(chunks "$s" | jq -s 'map(select(.choices == [])) | length')" 0
is "injected: the text and the finish come through" \
	"$(chunks "$s" | jq -rs '[.[].choices[0].delta.content // empty] | join("")')|$(chunks "$s" | jq -rs '[.[].choices[0].finish_reason // empty] | join(",")')" \
	"tok1 tok2 tok3 tok4 tok5|stop"
rec=$(tail -n1 "$AUDIT")
ok_if "injected: the audit has the backend's exact usage ($(jq -c .tokens <<<"$rec"))" \
	jq -e '.tokens.estimated == false and .tokens.completion == 5' <<<"$rec"

s=$(stream "$(body gpt-4o '"stream_options":{"include_usage":true},')" -H 'x-mock-tokens: 5')
is "asked by the client: its usage chunk comes before [DONE]" \
	"$(chunks "$s" | tail -n1 | jq -c '[.choices, .usage.completion_tokens]')" "[[],5]"
is "asked by the client: the other chunks keep their usage: null" \
	"$(chunks "$s" | jq -s 'map(select(has("usage") and .usage == null)) | length > 0')" true

s=$(cl -H 'content-type: application/json' -d "$(body gpt-4o | sed 's/"stream":true,//')" \
	-H 'x-mock-echo: 1' "$HTTP_URL/v1/chat/completions")
is "a request that does not stream is not given stream_options" \
	"$(mstat backend1 9000 '.last_request.body | fromjson | has("stream_options")')" false

# --- a stream with no max_tokens is cut at its reservation (default_max_tokens 40) ---
a0=$(mstat backend1 9000 .streams.aborted)
s=$(stream "$(body gpt-4o '' "$A500")" -H 'x-mock-token-interval: 2ms')
n=$(chunks "$s" | jq -rs '[.[].choices[0].delta.content // empty] | join("")' | wc -w)
ok_if "cut: the client got part of the answer ($n of 501 words, 40 tokens reserved)" \
	test "$n" -gt 30 -a "$n" -le 40
is "cut: the last chunk says finish_reason length, then [DONE]" \
	"$(chunks "$s" | tail -n1 | jq -r .choices[0].finish_reason) $(tail -n1 <<<"$s")" "length [DONE]"
is "cut: the backend's stream was aborted (the model stops working)" \
	"$(wait_for 3 test "$(mstat backend1 9000 .streams.aborted)" -gt "$a0" >/dev/null && echo yes)" yes
rec=$(tail -n1 "$AUDIT")
ok_if "cut: the audit charges what the client got ($(jq -c .tokens <<<"$rec"))" \
	jq -e '.status == 200 and .tokens.cut and .tokens.completion <= 40 and .tokens.completion > 30' <<<"$rec"
out=$(cl -N -H 'content-type: application/json' -H 'x-mock-token-interval: 2ms' --data-binary \
	"{\"model\":\"claude-x\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"$A500\"}]}" \
	"$HTTP_URL/v1/messages" | tr -d '\r')
is "cut, Anthropic: the stream ends with its own closing events" \
	"$(sed -n 's/^event: //p' <<<"$out" | tail -n3 | tr '\n' ' ')" \
	"content_block_stop message_delta message_stop "
is "cut, Anthropic: stop_reason max_tokens, and the audit says cut" \
	"$(sed -n 's/^data: //p' <<<"$out" | jq -rs 'map(select(.type == "message_delta")) | last | .delta.stop_reason') $(tail -n1 "$AUDIT" | jq -r .tokens.cut)" \
	"max_tokens true"
out=$(cl -N -H 'content-type: application/json' -H 'x-mock-token-interval: 2ms' --data-binary \
	"{\"model\":\"gpt-4o\",\"stream\":true,\"input\":\"$A500\"}" \
	"$HTTP_URL/v1/responses" | tr -d '\r')
is "cut, Responses: the stream ends with response.incomplete" \
	"$(sed -n 's/^event: //p' <<<"$out" | tail -n1)" "response.incomplete"
is "cut, Responses: incomplete for max_output_tokens, and the audit says cut" \
	"$(sed -n 's/^data: //p' <<<"$out" | tail -n1 | jq -r .response.incomplete_details.reason) $(tail -n1 "$AUDIT" | jq -r .tokens.cut)" \
	"max_output_tokens true"
s=$(stream "$(body gpt-4o '"max_tokens":30,' "$A500")")
is "bound by max_tokens: the backend stops itself, not cut" \
	"$(chunks "$s" | jq -rs '[.[].choices[0].delta.content // empty] | join("")' | wc -w) $(chunks "$s" | jq -rs 'map(.choices[0].finish_reason // empty) | join(",")')" \
	"30 length"

# --- 50 concurrent streams against 10,000 tokens a minute ---
# each reserves its prompt (about 500 tokens) and the default 40 completion
# tokens and would get 501 words unbounded: the admitted ones fit the budget
# together and are cut at their reservations, so none spends past it
printf '%s' "$(body budget-m '' "$A500")" >"$GW_TMP/req"
seq 50 | xargs -P 50 -I{} ip netns exec "$(lab_ns client)" curl -sS -N --max-time 20 \
	-o /dev/null -w '%{http_code}\n' -H 'content-type: application/json' \
	-H 'x-mock-token-interval: 1ms' --data-binary "@$GW_TMP/req" \
	"$HTTP_URL/v1/chat/completions" >"$GW_TMP/codes" 2>/dev/null
ok=$(grep -c '^200$' "$GW_TMP/codes")
limited=$(grep -c '^429$' "$GW_TMP/codes")
is "overshoot: every request answered, 200 or 429 ($ok admitted, $limited refused)" \
	"$((ok + limited))" 50
spent=$(jq -s '[.[] | select(.route == "budget" and .status == 200) |
	.tokens.prompt + .tokens.completion] | add // 0' "$AUDIT")
ok_if "overshoot: the admitted streams spent $spent tokens, within 10000" \
	test "$spent" -le 10000 -a "$ok" -ge 1 -a "$limited" -ge 1
