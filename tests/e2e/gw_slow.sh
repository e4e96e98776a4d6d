#!/usr/bin/env bash
# Slowloris and slow bodies (slowhttptest) from an attacker while a client
# keeps asking: every legitimate request is served, each slow connection
# is closed at its deadline (a head within header_timeout, a body above
# body_min_rate) and counted, and an open slow connection costs sluiced
# at most 32 KiB. sluiced raises its open files limit to the hard one, so
# a service manager's 1024 does not cap it. The timing figures (p99 under
# attack against the same run without) are scripts/bench/slow.sh's.
set -u
. "$(dirname "$0")/gw_lib.sh"

gw_start slow 120
command -v slowhttptest >/dev/null || { not_ok "slow: needs slowhttptest (make test-deps)"; exit 1; }
lab_host_add attacker a 3 || { not_ok "lab: attacker"; exit 1; }
B1=$(gw_host backend1)
gw_mock backend1 9000 >/dev/null || { not_ok "mock backend1:9000"; exit 1; }
ADMIN=$GW_TMP/admin.sock
cat >"$GW_CFG" <<EOF
{
  "workers": 2,
  "listeners": [ { "name": "plain", "address": "$GW_V4:$GW_HTTP" } ],
  "http": { "header_timeout": "3s", "body_timeout": "20s", "body_min_rate": "1KiB/s" },
  "admin": { "address": "unix:$ADMIN" },
  "pools": { "p": { "backends": [ { "url": "http://$B1:9000" } ] } },
  "routes": [ { "name": "all", "match": { "path": "/" }, "pool": "p" } ]
}
EOF
metric() { gw_metric "$ADMIN" "$1"; }
rss_kib() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$SLUICED_PID/status"; }
CHAT='{"model":"m","messages":[{"role":"user","content":"hi"}]}'

# as a service manager would start it
ulimit -Sn 1024
gw_sluiced "$GW_CFG" || exit 1
is "the open files limit is raised to the hard one" \
	"$(awk '/^Max open files/ { print ($4 == $5) }' "/proc/$SLUICED_PID/limits")" 1
is "a request before the attack" \
	"$(cl -o /dev/null -w '%{http_code}' --data-binary "$CHAT" "$HTTP_URL/v1/chat/completions")" 200
# warm: the workers' first allocations are not the slow connections'
for _ in $(seq 20); do cl -o /dev/null --data-binary "$CHAT" "$HTTP_URL/v1/chat/completions"; done
rss0=$(rss_kib)

# 900 slow heads (a header line a second) and 300 slow bodies (a few bytes a second)
lab_exec attacker timeout 40 slowhttptest -H -c 900 -r 300 -i 1 -x 8 -l 14 -p 2 \
	-u "http://$GW_V4:$GW_HTTP/v1/models" >"$GW_TMP/slow-h.log" 2>&1 &
SH=$!
GW_PIDS+=("$SH")
lab_exec attacker timeout 40 slowhttptest -B -c 300 -r 150 -i 1 -x 4 -s 65536 -l 14 -p 2 \
	-t POST -f application/json -u "http://$GW_V4:$GW_HTTP/v1/chat/completions" >"$GW_TMP/slow-b.log" 2>&1 &
SB=$!
GW_PIDS+=("$SB")

# while they drip: a client's requests, and the peak of open connections and memory
codes=$GW_TMP/codes
: >"$codes"
peak_conns=0
peak_rss=0
for _ in $(seq 40); do
	cl -o /dev/null -w '%{http_code}\n' --max-time 5 --data-binary "$CHAT" \
		"$HTTP_URL/v1/chat/completions" >>"$codes" 2>/dev/null
	n=$(metric sluice_connections_active)
	r=$(rss_kib)
	if [ "$n" -gt "$peak_conns" ]; then peak_conns=$n; peak_rss=$r; fi
	sleep 0.2
done
wait "$SH" "$SB" 2>/dev/null
diag "peak: $peak_conns connections open, RSS ${rss0} KiB -> ${peak_rss} KiB"
is "under attack: every legitimate request is served" \
	"$(sort "$codes" | uniq -c | awk '{printf "%s×%s ", $1, $2}')" "40×200 "
between "the slow connections were open together" "$peak_conns" 300 1300
per=$(( (peak_rss - rss0) * 1024 / (peak_conns > 0 ? peak_conns : 1) ))
diag "$per bytes of RSS per open slow connection"
if [[ $GW_BUILD == */san ]]; then
	skip "an open slow connection costs at most 32 KiB" "ASan's redzones and quarantine are not sluiced's"
else
	between "an open slow connection costs at most 32 KiB" "$per" 0 32768
fi

# every slow connection ends at a deadline, none lives on
drained() { [ "$(metric sluice_connections_active)" -le 1 ]; }
wait_for 10 drained >/dev/null
between "after the attack no slow connection is left open" "$(metric sluice_connections_active)" 0 1
between "each was closed at its deadline and counted (1200 sent)" "$(metric sluice_slow_clients_total)" 1000 1300
is "after the attack requests are served" \
	"$(cl -o /dev/null -w '%{http_code}' --data-binary "$CHAT" "$HTTP_URL/v1/chat/completions")" 200
