#!/usr/bin/env bash
# An abusive API key is suspended at L7: a key that runs into its limits
# escalation.keys.strikes times within the window is refused with 403
# api_key_suspended for its TTL (logged, in the audit trail); every address
# that goes on using it is struck (key_suspended) and so lands in the XDP
# throttle map; another key of the same tenant is untouched; the
# suspension outlives a restart (the state file keeps it); the key works
# again when the TTL is over.
set -u
. "$(dirname "$0")/gw_lib.sh"

gw_start suspend 90
lab_host_add attacker a 2 || { not_ok "lab: attacker host"; exit 1; }
export SLUICE_PIN_ROOT=/sys/fs/bpf/sluice-gwsusp-$$
GC=$(lab_gwdev client)
GA=$(lab_gwdev attacker)
susp_cleanup() {
	lab_ctl gw iface detach "$GC" purge >/dev/null 2>&1
	lab_ctl gw iface detach "$GA" purge >/dev/null 2>&1
	rm -rf "$SLUICE_PIN_ROOT"
}
trap 'susp_cleanup; gw_cleanup' EXIT
B1=$(gw_host backend1)
gw_mock backend1 9000 >/dev/null || { not_ok "mock backend1:9000"; exit 1; }
KEYS=$GW_TMP/keys.json
AUDIT=$GW_TMP/audit.jsonl
STATE=$GW_TMP/limits.state
newkey() { ctl -j key add "$@" file "$KEYS" 2>/dev/null | jq -r .key; }
K_BAD=$(newkey tenant acme)
K_GOOD=$(newkey tenant acme)
ID_BAD=$(jq -r '.keys[0].id' "$KEYS")

cat >"$GW_CFG" <<EOF
{
  "workers": 2,
  "listeners": [ { "name": "plain", "address": "$GW_V4:$GW_HTTP", "api_keys": "required" } ],
  "xdp": { "interfaces": [ { "name": "$GC", "mode": "auto" }, { "name": "$GA", "mode": "auto" } ],
           "protected_ports": [ $GW_HTTP ] },
  "pools": { "p": { "backends": [ { "url": "http://$B1:9000" } ] } },
  "routes": [ { "name": "chat", "match": { "path": "/" }, "pool": "p" } ],
  "keys": { "file": "$KEYS" },
  "tenants": { "acme": {} },
  "limits": { "per_key": { "requests_per_second": 2 }, "state_file": "$STATE" },
  "escalation": { "events": [ "rate_limited", "key_suspended" ], "strikes": 6, "window": "1m",
                  "steps": [ { "action": "throttle", "pps": 200, "ttl": "1m" } ],
                  "keys": { "strikes": 4, "window": "1m", "ttl": "8s" } },
  "audit": { "path": "$AUDIT", "sync": "always" }
}
EOF
GW_ROOT_MOUNTS=1
gw_sluiced "$GW_CFG" || exit 1

# chat ROLE KEY: "CODE CODE" of a chat request from ROLE's namespace
chat() {
	ip netns exec "$(lab_ns "$1")" curl -sS --max-time 10 -o "$GW_TMP/body" -w '%{http_code}' \
		-H 'content-type: application/json' -H "Authorization: Bearer $2" \
		--data-binary '{"model":"m","messages":[{"role":"user","content":"hi"}]}' \
		"$HTTP_URL/v1/chat/completions"
}
throttled() { ctl -j throttle list | jq -c --arg s "$1/32" '.[] | select(.source == $s)'; }

codes=""
for _ in $(seq 7); do codes+="$(chat client "$K_BAD") "; done
is "the key runs into its 2/s: 2 served, then 429s until its 4th strike suspends it, then 403s" \
	"$codes" "200 200 429 429 429 429 403 "
is "the suspended key from its address: 403 api_key_suspended" \
	"$(chat client "$K_BAD") $(jq -r .error.code "$GW_TMP/body")" "403 api_key_suspended"
ok_if "... the message names the key and the time left" \
	grep -qE "the API key $ID_BAD is suspended for [1-8]s after repeated abuse" "$GW_TMP/body"
grep -q "escalation key=$ID_BAD tenant=acme action=suspend ttl=8s events=\"rate_limited=4\"" "$GW_LOG"
ok_if "the suspension is logged with why" test $? = 0
rec=$(jq -c --arg k "$ID_BAD" 'select(.event == "key_suspension" and .key == $k)' "$AUDIT")
ok_if "... and recorded in the audit trail ($rec)" \
	jq -e '.tenant == "acme" and .ttl_s == 8 and .events.rate_limited == 4' <<<"${rec:-null}"
is "another key of the same tenant is served" "$(chat client "$K_GOOD")" 200

for _ in $(seq 6); do chat attacker "$K_BAD" >/dev/null; done
v=$(throttled 198.18.2.2)
ok_if "an address that keeps using the suspended key is struck into the XDP throttle map ($v)" \
	jq -e '.origin == "daemon" and (.reason | contains("key_suspended=6"))' <<<"${v:-null}"
ok_if "... as is the address the abuse came from" test -n "$(throttled 198.18.1.2)"
grep -q 'escalation source=198.18.1.2/32 step=1 action=throttle pps=200 ttl=60s events="rate_limited=4,key_suspended=2"' "$GW_LOG"
ok_if "... for its 429s and its use of the suspended key (the log says)" test $? = 0
is "the attacker's other key still passes (a 200/s cap, not a block)" "$(chat attacker "$K_GOOD")" 200

# --- a restart keeps the suspension (the state file has it) ---
kill -TERM "$SLUICED_PID"
wait "$SLUICED_PID"
ok_if "the state file keeps the suspension and the address's step" \
	eval "grep -qE '^escalation key $ID_BAD [1-9][0-9]* [0-9]+ 8000000000 1\$' '$STATE' && grep -qE '^escalation address 198.18.1.2/32 0 [0-9]+ 60000000000 1\$' '$STATE'"
cat "$GW_LOG" >>"$GW_LOG.old" && : >"$GW_LOG"
gw_sluiced "$GW_CFG" || exit 1
is "after a restart the key is still suspended" \
	"$(chat client "$K_BAD") $(jq -r .error.code "$GW_TMP/body")" "403 api_key_suspended"
# twice a second: each refusal is a strike against the address
for i in $(seq 24); do
	code=$(chat client "$K_BAD")
	[ "$code" = 200 ] && break
	sleep 0.5
done
is "after its TTL the key is served again (after $i tries)" "$code" 200
ok_if "audit verify: the chain holds with suspension records in it" ctl audit verify "$AUDIT"
