#!/usr/bin/env bash
# kill -9 of sluiced under load loses nothing: the XDP program stays
# attached and keeps dropping a blocklisted source and capping a throttled
# one with no daemon; with audit sync "always" every request whose answer
# was sent has its record on disk and the trail verifies (a torn final
# line is reported and passed over); a restarted sluiced adopts the
# attachments and the pinned maps (no entry lost, counters go on from
# where they were) and continues the audit chain.
set -u
. "$(dirname "$0")/gw_lib.sh"

gw_start crash 120
lab_host_add attacker a 3 && lab_host_add flooder f 4 || { not_ok "lab: attacker and flooder"; exit 1; }
GC=$(lab_gwdev client)
GA=$(lab_gwdev attacker)
GF=$(lab_gwdev flooder)
gw_xdp_pins "$GC" "$GA" "$GF"
AUDIT=$GW_TMP/audit.jsonl
B1=$(gw_host backend1)
gw_mock backend1 9000 >/dev/null || { not_ok "mock backend1:9000"; exit 1; }
cat >"$GW_CFG" <<EOF
{
  "workers": 2,
  "listeners": [ { "name": "plain", "address": "$GW_V4:$GW_HTTP" } ],
  "xdp": { "interfaces": [ { "name": "$GC", "mode": "auto" }, { "name": "$GA", "mode": "auto" },
                           { "name": "$GF", "mode": "auto" } ],
           "protected_ports": [ $GW_HTTP ] },
  "pools": { "p": { "backends": [ { "url": "http://$B1:9000" } ] } },
  "routes": [ { "name": "all", "match": { "path": "/" }, "pool": "p" } ],
  "audit": { "path": "$AUDIT", "sync": "always" }
}
EOF
GW_ROOT_MOUNTS=1
CHAT='{"model":"m","messages":[{"role":"user","content":"hi"}]}'
state() { lab_ctl gw -j iface list | jq -r --arg d "$1" '.[] | select(.ifname == $d) | .state'; }
lists() { ctl -j block list | jq -c '[.[] | [.cidr, .reason]]'; ctl -j throttle list | jq -c '[.[] | [.source, .action, .pps, .burst, .reason]]'; }
# load N FILE: up to N requests one after another, "CODE ID" per line;
# stops after 3 answers in a row that are not 200 (the daemon is gone)
load() {
	local i out bad=0
	for i in $(seq "$1"); do
		out=$(cl -D - -o /dev/null -w '\n%{http_code}' --max-time 3 -H 'content-type: application/json' \
			--data-binary "$CHAT" "$HTTP_URL/v1/chat/completions" 2>/dev/null | tr -d '\r')
		echo "${out##*$'\n'} $(printf '%s\n' "$out" | sed -n 's/^x-request-id: //Ip')"
		case ${out##*$'\n'} in 200) bad=0 ;; *) bad=$((bad + 1)); [ $bad -ge 3 ] && break ;; esac
	done >"$2"
}

gw_sluiced "$GW_CFG" || exit 1
for d in "$GC" "$GA" "$GF"; do
	[ "$(state "$d")" = enforcing ] || not_ok "start: $d is enforcing"
done
ctl block add 198.18.3.2 reason crash-test >/dev/null
ctl throttle add 198.18.4.2 pps 5 burst 5 reason crash-test >/dev/null
is "the attacker is dropped at the NIC" "$(pings attacker 10 198.18.3.1)" 0

# --- kill -9 under load: two clients in a loop ---
spawn load 2000 "$GW_TMP/load1"
L1=$BG_PID
spawn load 2000 "$GW_TMP/load2"
L2=$BG_PID
answered() { [ "$(cat "$GW_TMP/load1" "$GW_TMP/load2" 2>/dev/null | grep -c '^200 ')" -ge "$1" ]; }
# let the loops run a while: the kill lands on requests in flight
wait_for 15 answered 100 >/dev/null || not_ok "under load: 100 answers in 15 s"
kill -KILL "$SLUICED_PID"
wait "$SLUICED_PID" 2>/dev/null
kill -0 "$SLUICED_PID" 2>/dev/null && not_ok "sluiced is gone after kill -9"
wait "$L1" "$L2"
served=$(cat "$GW_TMP/load1" "$GW_TMP/load2" | grep -c '^200 ')
between "under load: requests were answered before the kill" "$served" 100 4000
ok_if "... and the kill cut the load (the loops ended on failures)" \
	grep -qv '^200 ' "$GW_TMP/load1" "$GW_TMP/load2"

# --- no daemon: the data plane goes on ---
for d in "$GC" "$GA" "$GF"; do
	is "no daemon: $d is still enforcing" "$(state "$d")" enforcing
done
b0=$(counter "$GA" block)
is "no daemon: the blocklisted attacker is still dropped" "$(pings attacker 20 198.18.3.1)" 0
is "... each ping counted under block" "$(($(counter "$GA" block) - b0))" 20
c0=$(counter "$GF" throttle_cap)
got=$(pings flooder 50 198.18.4.1)
between "no daemon: the throttled flooder still gets only its cap" "$got" 5 10
is "... the rest counted under throttle_cap" "$(($(counter "$GF" throttle_cap) - c0))" $((50 - got))

# --- the audit trail after the crash ---
ids=$(cat "$GW_TMP/load1" "$GW_TMP/load2" | awk '$1 == 200 { print $2 }' | sort -u)
missing=$(grep -v -x -F -f <(jq -r .id "$AUDIT" | sort -u) <<<"$ids" | grep -c .)
is "audit: every request answered 200 has its record on disk ($served)" "$missing" 0
is "audit: the trail verifies after kill -9" "$(ctl -j audit verify "$AUDIT" 2>/dev/null | jq -r .ok)" true
last=$(tail -n 1 "$AUDIT" | jq .seq)
# a write the crash cut half way: no newline at the end
printf '{"seq":%d,"time":"2026-' $((last + 1)) >>"$AUDIT"
v=$(ctl -j audit verify "$AUDIT" 2>"$GW_TMP/verify.err")
is "audit: a torn final line is passed over, the rest verifies" \
	"$(jq -r '[.ok, .records, (.torn_bytes > 0)] | join(" ")' <<<"$v")" "true $last true"
ok_if "... and reported" grep -q "final line torn" "$GW_TMP/verify.err"

# --- restart: adopts, loses nothing, goes on ---
before=$(lists)
bb=$(counter "$GA" block)
cb=$(counter "$GF" throttle_cap)
cat "$GW_LOG" >>"$GW_LOG.old" && : >"$GW_LOG"
gw_sluiced "$GW_CFG" || exit 1
for d in "$GC" "$GA" "$GF"; do
	ok_if "restart: $d adopted, not attached again" grep -q "xdp: interface=$d adopted" "$GW_LOG"
done
is "restart: no blocklist or throttle entry lost" "$(lists)" "$before"
ok_if "restart: the counters go on from where they were" \
	test "$(counter "$GA" block)" -ge "$bb" -a "$(counter "$GF" throttle_cap)" -ge "$cb"
is "restart: the attacker is still dropped" "$(pings attacker 5 198.18.3.1)" 0
ok_if "restart: the torn final line was cut off and logged" grep -q "truncated a torn final line" "$GW_LOG"
is "restart: requests are served" \
	"$(cl -o /dev/null -w '%{http_code}' -H 'content-type: application/json' --data-binary "$CHAT" \
		"$HTTP_URL/v1/chat/completions")" 200
kill -TERM "$SLUICED_PID"
wait "$SLUICED_PID"
is "restart: the chain goes on from the last record" \
	"$(ctl -j audit verify "$AUDIT" 2>/dev/null | jq -r '[.ok, .records, .torn_bytes] | join(" ")')" "true $((last + 1)) 0"
