#!/usr/bin/env bash
# A failing audit trail fails closed: with the trail's file system full,
# or its file (after a rotation) impossible to open, sluiced refuses new
# requests with 503 audit_unavailable before any reaches a backend, never
# acknowledges one it could not record, says so in its log and metrics,
# and serves again by itself once the trail can be written; with
# audit.on_error "continue" it serves on, counting the lost records.
set -u
. "$(dirname "$0")/gw_lib.sh"

gw_start auditfail 90
FS=$GW_TMP/auditfs
mkdir -p "$FS" || exit 1
# a 256 KiB file system of its own, so filling it touches nothing else
mount -t tmpfs -o size=256k,mode=0700 sluice-test "$FS" || { not_ok "a tmpfs for the trail"; exit 1; }
trap 'umount -l "$FS" 2>/dev/null; gw_cleanup' EXIT
AUDIT=$FS/audit.jsonl
B1=$(gw_host backend1)
gw_mock backend1 9000 --echo >/dev/null || { not_ok "mock backend1:9000"; exit 1; }
config() {
	cat >"$GW_CFG" <<EOF
{
  "workers": 2,
  "listeners": [ { "name": "plain", "address": "$GW_V4:$GW_HTTP" } ],
  "admin": { "address": "unix:$GW_TMP/admin.sock" },
  "pools": { "p": { "backends": [ { "url": "http://$B1:9000" } ] } },
  "routes": [ { "name": "chat", "match": { "path": "/" }, "pool": "p" } ],
  "audit": { "path": "$AUDIT", "sync": "always"$1 }
}
EOF
}
CHAT='{"model":"m","messages":[{"role":"user","content":"hello there"}]}'
IDS=$GW_TMP/acked
: >"$IDS"
# chat: "CODE"; a 200's request id is kept in $IDS (what was acknowledged)
chat() {
	local out code
	out=$(cl -D - -o "$GW_TMP/body" -w '%{http_code}' --max-time 5 -H 'content-type: application/json' \
		--data-binary "$CHAT" "$HTTP_URL/v1/chat/completions" 2>/dev/null)
	code=${out##*$'\n'}
	code=${code: -3}
	[ "$code" = 200 ] && printf '%s\n' "$out" | tr -d '\r' | sed -n 's/^x-request-id: //Ip' >>"$IDS"
	echo "$code"
}
metric() { gw_metric "$GW_TMP/admin.sock" "$1"; }
reloaded_past() { [ "$(grep -c 'reloaded config=' "$GW_LOG")" -gt "$1" ]; }
# reload: SIGHUP, and waits for the log to say it was taken
reload() {
	local n
	n=$(grep -c 'reloaded config=' "$GW_LOG")
	kill -HUP "$SLUICED_PID"
	wait_for 5 reloaded_past "$n" >/dev/null ||
		not_ok "reload taken" "$(tail -n 3 "$GW_LOG")"
}
backend() { mstat backend1 9000 .requests.total; }
# until_code CODE N: sends up to N requests until one answers CODE; prints how many it took
until_code() {
	local i
	for i in $(seq "$2"); do
		[ "$(chat)" = "$1" ] && { echo "$i"; return 0; }
		sleep 0.05
	done
	echo never
	return 1
}

config ""
gw_sluiced "$GW_CFG" || exit 1
is "a healthy trail: requests are served" "$(chat)" 200
is "... and sluice_audit_up is 1" "$(metric sluice_audit_up)" 1

# --- a full disk ---
dd if=/dev/zero of="$FS/fill" bs=4k 2>/dev/null
n=$(until_code 503 40)
ok_if "full disk: a request is refused within 40 (took $n)" test "$n" != never
is "... with code audit_unavailable" "$(jq -r .error.code "$GW_TMP/body")" audit_unavailable
b0=$(backend)
codes=$(for _ in 1 2 3 4 5; do chat; done | sort | uniq -c | awk '{printf "%s×%s ", $1, $2}')
is "... every request after it is refused" "$codes" "5×503 "
is "... and none reached the backend" "$(($(backend) - b0))" 0
is "... sluice_audit_up is 0" "$(metric sluice_audit_up)" 0
between "... sluice_audit_refused_total counts the refusals" "$(metric sluice_audit_refused_total)" 6 100
ok_if "... the log names the path and the reason" grep -q "audit: $AUDIT: .*No space left on device" "$GW_LOG"

rm -f "$FS/fill"
n=$(until_code 200 60)
ok_if "room again: requests are served without a restart (took $n)" test "$n" != never
is "... sluice_audit_up is 1 again" "$(metric sluice_audit_up)" 1

# --- an audit file that cannot be opened: rotated to a path that is a directory ---
mv "$AUDIT" "$AUDIT.1" && mkdir "$AUDIT"
kill -USR1 "$SLUICED_PID"
n=$(until_code 503 40)
ok_if "unwritable file: a request is refused within 40 (took $n)" test "$n" != never
b0=$(backend)
is "... the next is refused too, before the backend" "$(chat)/$(($(backend) - b0))" 503/0
ok_if "... the log names the path and the reason" grep -q "audit: $AUDIT: .*Is a directory" "$GW_LOG"
rmdir "$AUDIT"
n=$(until_code 200 60)
ok_if "openable again: requests are served (took $n)" test "$n" != never

# --- on_error continue: availability over the trail ---
config ', "on_error": "continue"'
reload
nack=$(wc -l <"$IDS")
dd if=/dev/zero of="$FS/fill" bs=4k 2>/dev/null
lost0=$(metric sluice_audit_lost_total)
codes=$(for _ in $(seq 8); do chat; done | sort | uniq -c | awk '{printf "%s×%s ", $1, $2}')
is "on_error continue: a full disk refuses nothing" "$codes" "8×200 "
between "... and the records it could not write are counted lost" \
	"$(($(metric sluice_audit_lost_total) - lost0))" 1 8
# those 200s were served knowingly unrecorded: not part of what must be on disk
head -n "$nack" "$IDS" >"$IDS.refuse" && mv "$IDS.refuse" "$IDS"
rm -f "$FS/fill"
config ""
reload
n=$(until_code 200 60)
ok_if "... room again, refuse again: served" test "$n" != never

# --- nothing acknowledged was lost ---
kill -TERM "$SLUICED_PID"
wait "$SLUICED_PID"
is "sluiced exits 0" "$?" 0
is "the trail verifies, before and after the rotation" \
	"$(ctl -j audit verify "$AUDIT.1" | jq -r .ok) $(ctl -j audit verify "$AUDIT" | jq -r .ok)" "true true"
ack=$(sort -u "$IDS" | grep -c .)
missing=$(sort -u "$IDS" | grep -v -x -F -f <(cat "$AUDIT.1" "$AUDIT" | jq -r .id | sort -u) | grep -c .)
diag "$ack acknowledged requests in refuse mode"
is "every request answered 200 in refuse mode has its record" "$missing" 0
