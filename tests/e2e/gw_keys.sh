#!/usr/bin/env bash
# Origins and limits, end to end: API keys (required on TLS, optional on the
# plain listener), 401s and 403s in the API's shape, the key not passed to
# the backend, per-tenant request rates refused with 429 and x-ratelimit-*
# headers before anything reaches the backend, max_tokens lowered to a cap,
# token budgets reserved before and settled after from the backend's usage,
# the audit trail's origin and tokens, and repeated failures escalated into
# the XDP throttle map.
set -u
. "$(dirname "$0")/gw_lib.sh"

gw_start keys 120
export SLUICE_PIN_ROOT=/sys/fs/bpf/sluice-gwkeys-$$
GC=$(lab_gwdev client)
keys_cleanup() {
	lab_ctl gw iface detach "$GC" purge >/dev/null 2>&1
	rm -rf "$SLUICE_PIN_ROOT"
}
trap 'keys_cleanup; gw_cleanup' EXIT
B1=$(gw_host backend1)
gw_mock backend1 9000 --echo --echo-headers '*' >/dev/null || { not_ok "mock backend1:9000"; exit 1; }

KEYS=$GW_TMP/keys.json
export SLUICE_ADMIN=unix:$GW_TMP/admin.sock
AUDIT=$GW_TMP/audit.jsonl
newkey() { ctl -j key add "$@" file "$KEYS" | jq -r .key; }
K_ACME=$(newkey tenant acme)
K_BETA=$(newkey tenant beta models 'gpt-4o*')
K_OTHER=$(newkey tenant acme routes other)
K_GAMMA=$(newkey tenant gamma)
ok_if "sluicectl key add: four keys in the file" test "$(jq '.keys | length' "$KEYS")" = 4

cat >"$GW_CFG" <<EOF
{
  "workers": 2,
  "listeners": [
    { "name": "tls", "address": "$GW_V4:$GW_TLS", "api_keys": "required",
      "tls": { "certificates": [ { "cert": "$GW_CERTS/api.pem", "key": "$GW_CERTS/api.key" } ] } },
    { "name": "plain", "address": "$GW_V4:$GW_HTTP", "api_keys": "optional" } ],
  "xdp": { "interfaces": [ { "name": "$GC", "mode": "auto" } ], "protected_ports": [ $GW_TLS, $GW_HTTP ] },
  "pools": { "p": { "backends": [ { "url": "http://$B1:9000" } ] } },
  "routes": [ { "name": "other", "match": { "path": "/v1/embeddings" }, "pool": "p" },
              { "name": "chat", "match": { "path": "/" }, "pool": "p" } ],
  "keys": { "file": "$KEYS" },
  "tenants": {
    "acme": { "limits": { "requests_per_second": 4 } },
    "beta": { "limits": { "max_tokens_cap": 100 } },
    "gamma": { "limits": { "tokens_per_minute": 1000 } }
  },
  "limits": { "per_address": { "requests_per_second": 1000 } },
  "tokenizer": { "models": [ { "model": "gpt-4o*", "encoding": "o200k_base" } ] },
  "escalation": { "events": [ "auth_failed" ], "strikes": 5, "window": "2m",
                  "steps": [ { "action": "throttle", "pps": 5, "ttl": "20s" },
                             { "action": "block", "ttl": "1m" } ] },
  "admin": { "address": "$SLUICE_ADMIN" },
  "audit": { "path": "$AUDIT", "sync": "always" }
}
EOF
GW_ROOT_MOUNTS=1
gw_sluiced "$GW_CFG" || exit 1

# chat KEY [MODEL [EXTRA JSON MEMBERS [CURL ARGS]]]: "CODE" of a chat request over TLS
chat() {
	local key=$1 model=${2:-gpt-4o} extra=${3:-}
	shift 3 2>/dev/null || shift $#
	cl -o "$GW_TMP/body" -D "$GW_TMP/head" -w '%{http_code}' -H 'content-type: application/json' \
		${key:+-H "Authorization: Bearer $key"} "$@" \
		--data-binary "{\"model\":\"$model\",\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]$extra}" \
		"$TLS_URL/v1/chat/completions"
}
hdr() { tr -d '\r' <"$GW_TMP/head" | awk -v k="$1:" 'tolower($1) == k { $1 = ""; sub(/^ /, ""); print }'; }
seen() { mstat backend1 9000 .requests.total; }

# --- keys ---
is "no key on a listener that requires one: 401 missing_api_key" \
	"$(chat '') $(jq -r .error.code "$GW_TMP/body")" "401 missing_api_key"
ok_if "... with WWW-Authenticate" grep -qi '^www-authenticate: Bearer' "$GW_TMP/head"
is "an unknown key: 401 invalid_api_key" \
	"$(chat sk-sluice-0000000000000000000000000000000000000000) $(jq -r .error.code "$GW_TMP/body")" "401 invalid_api_key"
is "a valid key: 200" "$(chat "$K_ACME")" 200
is "the backend never sees the client's sluice key" \
	"$(mstat backend1 9000 '[.last_request.headers[] | select(.[0] | ascii_downcase == "authorization")] | length')" 0
is "x-api-key carries a key too" \
	"$(cl -o /dev/null -w '%{http_code}' -H "x-api-key: $K_ACME" -H 'content-type: application/json' \
		-d '{"model":"m","messages":[{"role":"user","content":"x"}]}' "$TLS_URL/v1/chat/completions")" 200
is "a key bound to gpt-4o*: another model is 403" \
	"$(chat "$K_BETA" claude-3) $(jq -r .error.code "$GW_TMP/body")" "403 model_not_allowed"
is "... its own model passes" "$(chat "$K_BETA" gpt-4o-mini)" 200
is "a key bound to route other: the chat route is 403" "$(chat "$K_OTHER")" 403
is "the plain listener takes requests without a key (keys optional)" \
	"$(cl -o /dev/null -w '%{http_code}' -H 'content-type: application/json' \
		-d '{"model":"m","messages":[{"role":"user","content":"x"}]}' "$HTTP_URL/v1/chat/completions")" 200

# --- request rate: acme may send 4 a second ---
sleep 1.1
n0=$(seen)
# seven at once, in one curl: the bucket holds 4
codes=$(cl -Z --parallel-immediate -w '%{http_code}\n' -H 'content-type: application/json' \
	-H "Authorization: Bearer $K_ACME" \
	--data-binary '{"model":"gpt-4o","messages":[{"role":"user","content":"hello there"}]}' \
	$(for i in 1 2 3 4 5 6 7; do echo "-o /dev/null $TLS_URL/v1/chat/completions"; done) 2>/dev/null)
is "tenant rate: of 7 requests at once, 4 pass and 3 get 429" \
	"$(sort <<<"$codes" | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')" "200:4 429:3 "
is "... the refused ones never reached the backend" "$(($(seen) - n0))" 4
is "the next one is refused too: OpenAI's error shape, type requests, code rate_limit_exceeded" \
	"$(chat "$K_ACME") $(jq -r '[.error.type, .error.code] | join(" ")' "$GW_TMP/body")" "429 requests rate_limit_exceeded"
ok_if "429: Retry-After and the x-ratelimit request headers ($(hdr retry-after), $(hdr x-ratelimit-remaining-requests) left of $(hdr x-ratelimit-limit-requests), reset $(hdr x-ratelimit-reset-requests))" \
	test "$(hdr retry-after)" -ge 1 -a "$(hdr x-ratelimit-limit-requests)" = 4 -a "$(hdr x-ratelimit-remaining-requests)" = 0
sleep 1.1
chat "$K_ACME" >/dev/null
is "a successful answer carries x-ratelimit-limit-requests and what is left" \
	"$(hdr x-ratelimit-limit-requests) $(hdr x-ratelimit-remaining-requests)" "4 3"

# --- max_tokens cap: beta's is 100 ---
chat "$K_BETA" gpt-4o ',"max_tokens":500' >/dev/null
is "max_tokens above the tenant's cap is lowered to it before the backend sees it" \
	"$(mstat backend1 9000 '.last_request.body | fromjson | .max_tokens')" 100
chat "$K_BETA" gpt-4o >/dev/null
is "a request naming no max_tokens gets the cap" \
	"$(mstat backend1 9000 '.last_request.body | fromjson | .max_tokens')" 100

# --- token budget: gamma has 1000 tokens a minute ---
is "a request whose reservation can never fit the budget: 429 tokens" \
	"$(chat "$K_GAMMA" gpt-4o ',"max_tokens":5000') $(jq -r .error.type "$GW_TMP/body")" "429 tokens"
is "reserve 600 of 1000: passes" "$(chat "$K_GAMMA" gpt-4o ',"max_tokens":600')" 200
is "again: passes, because the first gave back what its usage did not spend" \
	"$(chat "$K_GAMMA" gpt-4o ',"max_tokens":600')" 200
ok_if "x-ratelimit token headers on the answer ($(hdr x-ratelimit-remaining-tokens) of $(hdr x-ratelimit-limit-tokens))" \
	test "$(hdr x-ratelimit-limit-tokens)" = 1000

# --- audit and metrics ---
rec=$(grep "\"key\":\"$(jq -r --arg t gamma '.keys[] | select(.tenant == $t) | .id' "$KEYS")\"" "$AUDIT" | tail -1)
is "audit: the record names the key and its tenant" "$(jq -r '.origin.tenant' <<<"$rec")" gamma
ok_if "audit: tokens as the backend reported them ($(jq -c .tokens <<<"$rec"))" \
	jq -e '.tokens.estimated == false and .tokens.prompt > 0 and .tokens.completion > 0' <<<"$rec"
# "hello there" as one user message is 3 + 1 + 2 + 3 tokens in o200k_base
is "audit: reserved the prompt counted exactly (9 tokens) and max_tokens 600" \
	"$(jq -r .tokens.reserved <<<"$rec")" 609
is "sluicectl tokens: gamma's two answered requests, from the trail (its 429 spent nothing)" \
	"$(ctl -j tokens file "$AUDIT" tenant gamma | jq -r '.[0] | "\(.tenant) \(.requests) \(.prompt > 0) \(.completion > 0)"')" "gamma 2 true true"
is "audit: a record for every 429 (4 for acme's rate, 1 for gamma's budget)" \
	"$(jq -r 'select(.status == 429) | .origin.tenant' "$AUDIT" | sort | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')" "acme:4 gamma:1 "
met=$(curl -s --unix-socket "$GW_TMP/admin.sock" http://x/metrics)
is "metrics: rate-limit rejections by scope and limit" \
	"$(awk '/^sluice_rate_limited_total\{/ && $2 > 0 { print $1 "=" $2 }' <<<"$met" | sort | tr '\n' ' ')" \
	'sluice_rate_limited_total{scope="tenant",limit="requests_per_second"}=4 sluice_rate_limited_total{scope="tenant",limit="tokens_per_minute"}=1 '
ok_if "metrics: prompt tokens counted with the encoding, labelled estimated=\"false\"" \
	awk '/^sluice_prompt_tokens_total\{route="chat",estimated="false"\}/ && $2 >= 9 { f = 1 } END { exit !f }' <<<"$met"
ok_if "metrics: tokens by tenant, as the backend reported them (gamma's prompt and completion)" \
	awk '/^sluice_tenant_tokens_total\{tenant="gamma",direction="(prompt|completion)"\}/ && $2 > 0 { n++ } END { exit n != 2 }' <<<"$met"
between "metrics: authentication failures counted (2 so far)" \
	"$(awk '/^sluice_auth_failures_total/ { print $2 }' <<<"$met")" 2 2

# --- keys reload without a restart ---
pid0=$SLUICED_PID
K_NEW=$(ctl -j key add tenant acme file "$KEYS" | jq -r 'select(.daemon == "reloaded") | .key')
is "a key added while sluiced runs works at once (key add reloads it)" "$(chat "$K_NEW")" 200
ctl key revoke "$(jq -r '.keys[-1].id' "$KEYS")" file "$KEYS" 2>"$GW_TMP/revoke.err"
ok_if "key revoke says the daemon reloaded" grep -q "sluiced reloaded" "$GW_TMP/revoke.err"
is "the revoked key is refused: 401 invalid_api_key" \
	"$(chat "$K_NEW") $(jq -r .error.code "$GW_TMP/body")" "401 invalid_api_key"
is "... by the same process, never restarted" "$(kill -0 "$pid0" && echo alive)" alive
ok_if "key list shows the revoked key" eval "ctl key list file '$KEYS' | awk 'NR > 1 && \$4 != \"-\"' | grep -q acme"

# --- escalation: 5 failed authentications from one source ---
for i in 1 2; do chat sk-sluice-bad$i >/dev/null; done	# 3 so far (the revoked key)
sleep 0.2
v=$(ctl -j throttle list | jq -c '.[] | select(.source == "198.18.1.2/32")')
ok_if "escalation: the source is throttled at the NIC after 5 failed keys ($v)" \
	jq -e '.action == "cap" and .pps == 5 and .origin == "daemon" and (.reason | startswith("escalation 1: auth_failed=")) and .expires_in_s <= 20' <<<"$v"
esc=$(jq -c 'select(.event == "escalation")' "$AUDIT")
ok_if "escalation: the audit trail records the verdict and why ($esc)" \
	jq -e '.source == "198.18.1.2/32" and .step == 1 and .action == "throttle" and .pps == 5 and .ttl_s == 20 and .events.auth_failed == 5 and .written' <<<"${esc:-null}"
got=$(lab_exec client ping -q -n -c 60 -i 0.01 -W 1 "$GW_V4" 2>/dev/null | sed -n 's/.* \([0-9]*\) received.*/\1/p')
between "escalation: the throttle holds the source to a few packets a second (60 pings sent)" "${got:-0}" 1 20
ok_if "audit verify: the chain holds with escalation records in it" ctl audit verify "$AUDIT"
