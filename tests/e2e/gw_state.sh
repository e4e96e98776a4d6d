#!/usr/bin/env bash
# Budgets survive a restart: a tenant that spent its tokens a minute is
# still refused after sluiced stops and starts again (a tenant that spent
# nothing is served), the state file is private and names what it owes,
# sluicectl key list shows when each key was last used, a damaged state
# file is kept aside and reported, and a state file that cannot be written
# stops the start with an error naming it.
set -u
. "$(dirname "$0")/gw_lib.sh"

gw_start state 90
B1=$(gw_host backend1)
gw_mock backend1 9000 >/dev/null || { not_ok "mock backend1:9000"; exit 1; }
KEYS=$GW_TMP/keys.json
STATE=$GW_TMP/var/limits.state
mkdir -p "$GW_TMP/var"
newkey() { ctl -j key add "$@" file "$KEYS" 2>/dev/null | jq -r .key; }
K_GAMMA=$(newkey tenant gamma)
K_DELTA=$(newkey tenant delta)
K_IDLE=$(newkey tenant delta)
: "$K_IDLE"
ID_GAMMA=$(jq -r '.keys[0].id' "$KEYS")
ID_IDLE=$(jq -r '.keys[2].id' "$KEYS")

config() {
	cat >"$GW_CFG" <<EOF
{
  "workers": 2,
  "listeners": [ { "name": "plain", "address": "$GW_V4:$GW_HTTP", "api_keys": "required" } ],
  "pools": { "p": { "backends": [ { "url": "http://$B1:9000" } ] } },
  "routes": [ { "name": "chat", "match": { "path": "/" }, "pool": "p" } ],
  "keys": { "file": "$KEYS" },
  "tenants": { "gamma": { "limits": { "tokens_per_minute": 1000 } },
               "delta": { "limits": { "tokens_per_minute": 1000 } } },
  "limits": { "state_file": "$1", "state_interval": "1s" }
}
EOF
}
# chat KEY MAX_TOKENS [TOKENS THE MOCK ANSWERS]: "CODE"
chat() {
	cl -o "$GW_TMP/body" -w '%{http_code}' -H 'content-type: application/json' \
		-H "Authorization: Bearer $1" -H "x-mock-tokens: ${3:-1}" \
		--data-binary "{\"model\":\"m\",\"max_tokens\":$2,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" \
		"$HTTP_URL/v1/chat/completions"
}
# stop: SIGTERM and wait; the log moves aside so the next start is seen
stop() {
	kill -TERM "$SLUICED_PID" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$SLUICED_PID" 2>/dev/null || break; sleep 0.1; done
	cat "$GW_LOG" >>"$GW_LOG.old" && : >"$GW_LOG"
}

config "$STATE"
gw_sluiced "$GW_CFG" || exit 1
grep -q "limits: no state yet path=$STATE" "$GW_LOG"
ok_if "a first start says there is no state yet" test $? = 0
ok_if "... and writes one at once, mode 0600" test "$(stat -c %a "$STATE" 2>/dev/null)" = 600

is "gamma spends 800 of its 1000 tokens a minute" "$(chat "$K_GAMMA" 800 800)" 200
is "... and cannot reserve 300 more" "$(chat "$K_GAMMA" 300)" 429
stop
ok_if "sluiced stops on SIGTERM" test "$(kill -0 "$SLUICED_PID" 2>/dev/null && echo up)" = ""
ok_if "the state file owes gamma's tokens" grep -q '^bucket tenant gamma ' "$STATE"
ok_if "... and says when gamma's key was used" grep -q "^key $ID_GAMMA [0-9]" "$STATE"
ok_if "... and ends whole" grep -q '^end [0-9]' "$STATE"

gw_sluiced "$GW_CFG" || exit 1
grep -q "limits: state loaded path=$STATE records=" "$GW_LOG"
ok_if "the restarted daemon loads the state" test $? = 0
is "after the restart gamma still cannot reserve 300" "$(chat "$K_GAMMA" 300)" 429
is "... while delta, which spent nothing, can" "$(chat "$K_DELTA" 300)" 200

kl=$(ctl -j key list file "$KEYS" state "$STATE")
ok_if "sluicectl key list state FILE: gamma's key has a last use" \
	jq -e --arg id "$ID_GAMMA" '.[] | select(.id == $id) | .last_used | test("^20[0-9-]+T")' <<<"$kl"
ok_if "... an unused key has none (null)" \
	jq -e --arg id "$ID_IDLE" '.[] | select(.id == $id) | .last_used == null' <<<"$kl"
ok_if "... the table shows a LAST USED column" \
	grep -q 'LAST USED' <<<"$(ctl key list file "$KEYS" state "$STATE")"

# --- a damaged file ---
stop
head -n 3 "$STATE" >"$STATE.cut" && mv "$STATE.cut" "$STATE"
gw_sluiced "$GW_CFG" || exit 1
grep -q "limits: $STATE: no end record (torn file?); kept as $STATE.bad, budgets start afresh" "$GW_LOG"
ok_if "a torn state file is reported by name" test $? = 0
ok_if "... kept aside as .bad" test -s "$STATE.bad"
is "... and the daemon serves, budgets afresh" "$(chat "$K_GAMMA" 300)" 200
bad=$(ctl key list file "$KEYS" state "$STATE.bad" 2>&1)
ok_if "sluicectl key list refuses the torn file, naming it" grep -q "key list: $STATE.bad: no end record" <<<"$bad"

# --- a state file that cannot be written ---
stop
config "$GW_TMP/nowhere/limits.state"
ip netns exec "$LAB_GW" "$SLUICED" -c "$GW_CFG" >"$GW_TMP/nowhere.log" 2>&1 </dev/null &
pid=$!
for _ in $(seq 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
ok_if "a state file in a missing directory stops the start" test "$(kill -0 $pid 2>/dev/null && echo up)" = ""
kill $pid 2>/dev/null
ok_if "... with an error naming the path" grep -q "$GW_TMP/nowhere/limits.state" "$GW_TMP/nowhere.log"
