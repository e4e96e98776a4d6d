#!/usr/bin/env bash
# sluiced with "user": it attaches XDP, opens its maps and files and binds
# its ports as root, then becomes that user with no capability left; it
# still serves (TLS too), reloads, writes its audit trail and state file,
# rotates the trail, exports the XDP counters and pushes an escalation
# into the throttle map through the descriptors it kept; a reload that
# would attach another interface is refused; its files are private; a
# user that does not exist, or one that cannot read what a reload reads,
# stops the start with an error naming it.
set -u
. "$(dirname "$0")/gw_lib.sh"

gw_start priv 90
U=sluice-t$$
useradd -r -M -d /nonexistent -s /usr/sbin/nologin "$U" || { not_ok "a system user for the test"; exit 1; }
GC=$(lab_gwdev client)
GB=$(lab_gwdev backend1)
gw_xdp_pins "$GC"
trap 'userdel "$U" 2>/dev/null; gw_cleanup' EXIT
VAR=$GW_TMP/var
mkdir -p "$VAR" && chown "$U:" "$VAR" && chmod 0700 "$VAR"
# the certificates' keys readable by the user's group, as a packager would set them
chgrp "$U" "$GW_CERTS"/api.key "$GW_CERTS"/other.key && chmod 0640 "$GW_CERTS"/api.key "$GW_CERTS"/other.key
KEYS=$GW_TMP/keys.json
KEY=$(ctl -j key add tenant t file "$KEYS" | jq -r .key)
chown "$U:" "$KEYS"
AUDIT=$VAR/audit.jsonl
STATE=$VAR/limits.state
B1=$(gw_host backend1)
gw_mock backend1 9000 >/dev/null || { not_ok "mock backend1:9000"; exit 1; }
config() {
	cat >"$GW_CFG" <<EOF
{
  "user": "${2:-$U}",
  "workers": 2,
$(gw_listeners | sed 's/"name": "plain", /"name": "plain", "api_keys": "optional", /'),
  "admin": { "address": "unix:$VAR/admin.sock" },
  "xdp": { "interfaces": [ $1 ], "protected_ports": [ $GW_HTTP, $GW_TLS ] },
  "pools": { "p": { "backends": [ { "url": "http://$B1:9000" } ] } },
  "routes": [ { "name": "all", "match": { "path": "/" }, "pool": "p" } ],
  "keys": { "file": "$KEYS" },
  "audit": { "path": "$AUDIT", "sync": "always" },
  "limits": { "state_file": "$STATE", "state_interval": "1s" },
  "escalation": { "events": [ "auth_failed" ], "strikes": 3, "window": "60s",
                  "steps": [ { "action": "throttle", "pps": 50, "ttl": "1m" } ] }
}
EOF
}
IF1="{ \"name\": \"$GC\", \"mode\": \"auto\" }"
GW_ROOT_MOUNTS=1
CHAT='{"model":"m","messages":[{"role":"user","content":"hi"}]}'
chat() {
	cl -o /dev/null -w '%{http_code}' -H 'content-type: application/json' ${2:+-H "Authorization: Bearer $2"} \
		--data-binary "$CHAT" "$1/v1/chat/completions"
}
metric() { gw_metric "$VAR/admin.sock" "$1"; }
status_field() { awk -v f="$1:" '$1 == f { $1 = ""; print substr($0, 2) }' "/proc/$SLUICED_PID/status" | tr -s '\t ' ' '; }
uid=$(id -u "$U")
gid=$(id -g "$U")

# --- the start stops on a user it cannot become ---
config "$IF1" nobody-such-user
ok_if "a user that does not exist: the config is refused, naming it" \
	sh -c "'$SLUICED' --check '$GW_CFG' 2>&1 | grep -q \"user: 'nobody-such-user': no such user\""
config "$IF1" root
ok_if "root as the user is refused" \
	sh -c "'$SLUICED' --check '$GW_CFG' 2>&1 | grep -q \"user: 'root': uid 0 is where sluiced starts\""

config "$IF1"
gw_sluiced "$GW_CFG" || exit 1
ok_if "it logs the drop" grep -q "privileges dropped user=$U uid=$uid gid=$gid capabilities=none" "$GW_LOG"
is "every uid is the user's" "$(status_field Uid)" "$uid $uid $uid $uid"
is "every gid is the user's" "$(status_field Gid)" "$gid $gid $gid $gid"
is "no capability is left (effective, permitted, ambient)" \
	"$(status_field CapEff) $(status_field CapPrm) $(status_field CapAmb)" \
	"0000000000000000 0000000000000000 0000000000000000"
ok_if "every thread is the user's too" sh -c "! grep -L '^Uid:[[:space:]]*$uid[[:space:]]' /proc/$SLUICED_PID/task/*/status | grep -q ."
is "the interface was attached as root" \
	"$(lab_ctl gw -j iface list | jq -r --arg d "$GC" '.[] | select(.ifname == $d) | .state')" enforcing

is "plain requests are served" "$(chat "$HTTP_URL" "$KEY")" 200
is "TLS requests are served" "$(chat "$TLS_URL" "$KEY")" 200
between "the XDP counters are exported from the held maps" "$(metric sluice_xdp_packets_total)" 1 100000000

# three bad keys: the escalation writes the throttle map as the user
for _ in 1 2 3; do chat "$HTTP_URL" sk-bad >/dev/null; done
wait_for 5 sh -c "'$SLUICECTL' -j throttle list | jq -e '.[] | select(.source == \"198.18.1.2/32\")'" >/dev/null
is "an escalation reaches the throttle map after the drop" \
	"$(ctl -j throttle list | jq -r '.[] | select(.source == "198.18.1.2/32") | [.action, .pps] | join(" ")')" "cap 50"
ctl throttle del 198.18.1.2 >/dev/null

# --- its files ---
wait_for 5 test -s "$STATE" >/dev/null
is "the audit trail is the user's and private" "$(stat -c '%U %a' "$AUDIT")" "$U 600"
is "the state file is the user's and private" "$(stat -c '%U %a' "$STATE")" "$U 600"
is "the admin socket is private" "$(stat -c '%a' "$VAR/admin.sock")" 600
ok_if "another user cannot read the trail" sh -c "! runuser -u nobody -- cat '$AUDIT' >/dev/null 2>&1"
ok_if "... nor the state file" sh -c "! runuser -u nobody -- cat '$STATE' >/dev/null 2>&1"
ok_if "... nor reach the admin socket" \
	sh -c "! runuser -u nobody -- curl -s --max-time 2 --unix-socket '$VAR/admin.sock' http://sluice/metrics >/dev/null 2>&1"

# --- reload and rotation as the user ---
K2=$(ctl -j key add tenant t file "$KEYS" | jq -r .key)
is "sluicectl key add keeps the keys file the user's" "$(stat -c '%U %a' "$KEYS")" "$U 600"
kill -HUP "$SLUICED_PID"
wait_for 5 grep -q "reloaded config=" "$GW_LOG" >/dev/null
is "a reload as the user takes the new key" "$(chat "$HTTP_URL" "$K2")" 200
mv "$AUDIT" "$AUDIT.1"
kill -USR1 "$SLUICED_PID"
is "after a rotation requests are served" "$(chat "$HTTP_URL" "$KEY")" 200
is "... into a new trail of the user's" "$(stat -c '%U %a' "$AUDIT" 2>/dev/null)" "$U 600"
config "$IF1, { \"name\": \"$GB\", \"mode\": \"auto\" }"
kill -HUP "$SLUICED_PID"
wait_for 5 grep -q "reload refused" "$GW_LOG" >/dev/null
ok_if "a reload that would attach another interface is refused, saying why" \
	grep -q "reload refused: xdp.interfaces changed (sluiced runs as user $U" "$GW_LOG"
is "... and the old config keeps serving" "$(chat "$HTTP_URL" "$KEY")" 200
config "$IF1"
kill -TERM "$SLUICED_PID"
wait "$SLUICED_PID"
is "it stops cleanly (exit 0)" "$?" 0
is "the trail verifies across the rotation" \
	"$(ctl -j audit verify "$AUDIT.1" | jq -r .ok) $(ctl -j audit verify "$AUDIT" | jq -r .ok)" "true true"

# --- what a reload reads must be readable by the user ---
chmod 0600 "$GW_CERTS"/api.key && chown root:root "$GW_CERTS"/api.key
: >"$GW_LOG"
nsenter --net=/run/netns/"$LAB_GW" "$SLUICED" -c "$GW_CFG" >"$GW_LOG" 2>&1 </dev/null &
P=$!
GW_PIDS+=("$P")
wait_for 10 sh -c "! kill -0 $P 2>/dev/null" >/dev/null
wait "$P"
is "a certificate key the user cannot read stops the start (exit 1)" "$?" 1
ok_if "... with an error naming the file and the user" \
	grep -q "listeners.tls.certificates: $GW_CERTS/api.key not readable by user $U" "$GW_LOG"

# --- the systemd unit is valid, pointed at this build ---
if command -v systemd-analyze >/dev/null; then
	sed -e "s|/usr/local/sbin/sluiced|$SLUICED|g" -e "s|/usr/local/etc/sluice/sluice.json|$GW_CFG|g" \
		"$E2E_ROOT/etc/sluiced.service" >"$GW_TMP/sluiced.service"
	out=$(systemd-analyze verify "$GW_TMP/sluiced.service" 2>&1 | grep -v "Command 'man " | grep .)
	is "etc/sluiced.service: systemd-analyze verify finds nothing" "$out" ""
	is "... it sets NoNewPrivileges, a bounding set and a read-only system" \
		"$(grep -c '^NoNewPrivileges=yes\|^CapabilityBoundingSet=CAP\|^ProtectSystem=strict' "$GW_TMP/sluiced.service")" 3
else
	skip "etc/sluiced.service: systemd-analyze verify" "no systemd-analyze"
fi
