#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The clients' result lines (KEY=VALUE ...) are eval'ed into variables:
# shellcheck disable=SC2154
#
# soak.sh [--quick]: sluiced for $DUR seconds (10 minutes) at 70% of its
# peak request rate, with streams running and a SIGHUP every 2 s, on
# 127.0.0.1 against build/mockllm, with per-address limits and inspection
# on so the limit buckets and the detectors' scratch are exercised.
#   peak     wrk -t1 -c32 for 5 s: the rate sluiced sustains
#   load     proxy_client load (open loop) at 70% of it, 32 connections
#   streams  proxy_client stream, one after another, 200 tokens 5 ms apart
#   reloads  SIGHUP every 2 s
# Every 10 s the RSS, the open descriptors and the limit buckets in use are
# sampled. Targets (issue 7): no failed request, no cut stream, every reload
# taken, RSS growth under 5% from the end of the first fifth to the end,
# and once the load is gone the descriptors back where they started (no
# leak) and the limit buckets no more than its one source's (no entry leak).
# CPUs: sluiced and the mock on CPU $PROXY_CPU; the clients on $CLIENT_CPU.
# Knobs (environment): DUR. --quick: 40 s; exits non-zero if any step
# fails (a missed target is not).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib.sh
. "$ROOT/scripts/bench/lib.sh"

bench_args soak.sh "$@"
if [ $QUICK = 1 ]; then
	DUR=${DUR:-40}
else
	DUR=${DUR:-600}
fi
CONNS=32
PROXY_CPU=0
MOCK_CPU=0
CLIENT_CPU=1

bench_init soak-bench
bench_need wrk taskset setsid timeout ss awk curl
[ "$(nproc)" -ge 2 ] || bench_die "needs 2 CPUs"

bench_bins sluiced mockllm bench/proxy_client
bench_chat_body
printf '{"model":"m","stream":true,"messages":[{"role":"user","content":"go on"}]}' >"$T/stream.json"
bench_pick_ports 2
MOCK_PORT=${BENCH_PORTS[0]} PORT=${BENCH_PORTS[1]}
ADMIN=$T/admin.sock
ulimit -Sn "$(ulimit -Hn)"

cat >"$T/sluice.json" <<EOF
{
  "workers": 2,
  "listeners": [ { "name": "plain", "address": "127.0.0.1:$PORT" } ],
  "http": { "idle_timeout": "5m" },
  "admin": { "address": "unix:$ADMIN" },
  "pools": { "mock": { "backends": [ { "url": "http://127.0.0.1:$MOCK_PORT" } ] } },
  "routes": [ { "name": "all", "pool": "mock" } ],
  "limits": { "per_address": { "requests_per_second": 1000000, "concurrent": 100000 } },
  "inspect": { "detectors": [ "all" ],
               "rules": [ { "name": "mask-pii", "match": { "detectors": [ "email", "card" ] },
                            "action": "mask", "mask": { "entities": [ "email", "card" ] } } ] }
}
EOF

echo "== $(date -u '+%F %T UTC'), $(uname -r), $(nproc) CPUs: $(lscpu | sed -n 's/^Model name: *//p')"
echo "== $(wrk -v 2>&1 | awk 'NR == 1 { print $1, $2 }'), $(bench_sluiced_rev)"
echo "== CPUs: sluiced and mock on $PROXY_CPU; clients on $CLIENT_CPU; $DUR s"

bench_spawn "$T/mock.log" taskset -c $MOCK_CPU "$T/mockllm" --listen "127.0.0.1:$MOCK_PORT" --threads 1
bench_wait_http "http://127.0.0.1:$MOCK_PORT" "$T/body.json"
"$T/sluiced" --check "$T/sluice.json" >/dev/null || bench_die "sluiced --check failed"
bench_spawn "$T/sluiced.log" taskset -c $PROXY_CPU "$T/sluiced" -c "$T/sluice.json"
PG=$BENCH_PID
bench_wait_http "http://127.0.0.1:$PORT" "$T/body.json"
SPID=$(pgrep -g "$PG" -x sluiced | head -n 1)

metric() {
	curl -s --max-time 5 --unix-socket "$ADMIN" http://sluice/metrics |
		awk -v m="$1" '$1 == m || index($1, m "{") == 1 { s += $2 } END { print s + 0 }'
}
sample() {
	echo "$(($(date +%s) - T0)) $(awk '$1 == "VmRSS:" { print $2 }' "/proc/$SPID/status")" \
		"$(find "/proc/$SPID/fd" -mindepth 1 -maxdepth 1 | wc -l) $(metric sluice_limit_buckets)"
}

FAILED=0
# peak: what wrk gets through for 5 s
out=$(timeout 20 taskset -c $CLIENT_CPU wrk -t1 -c$CONNS -d5s -s "$LUA" "http://127.0.0.1:$PORT/v1/chat/completions" 2>&1 |
	grep WRK_RESULT) || bench_die "wrk failed"
eval "${out#WRK_RESULT }"
RATE=$(awk -v r="$rps" 'BEGIN { printf "%d", r * 0.7 }')
echo "== peak $(printf '%.0f' "$rps") req/s; soaking at $RATE req/s"
sleep 2
fd0=$(find "/proc/$SPID/fd" -mindepth 1 -maxdepth 1 | wc -l)

T0=$(date +%s)
bench_spawn "$T/load.out" taskset -c $CLIENT_CPU "$T/proxy_client" load --port "$PORT" --body "$T/body.json" \
	--rate "$RATE" --duration "$DUR" --conns $CONNS
LOAD=$BENCH_PID
STREAMS=$((DUR * 8 / 10))
bench_spawn "$T/stream.out" taskset -c $CLIENT_CPU "$T/proxy_client" stream --port "$PORT" --body "$T/stream.json" \
	--streams "$STREAMS" --tokens 200 --interval 4ms
STREAM=$BENCH_PID
SAMPLES=$T/samples.txt
: >"$SAMPLES"
hups=0
next_sample=0
while kill -0 "$LOAD" 2>/dev/null && [ $(($(date +%s) - T0)) -lt $((DUR + 30)) ]; do
	kill -HUP "$SPID"
	hups=$((hups + 1))
	if [ $(($(date +%s) - T0)) -ge $next_sample ]; then
		sample >>"$SAMPLES"
		next_sample=$((next_sample + 10))
	fi
	sleep 2
done
wait "$LOAD" || { bench_log "load: $(grep -v LOAD_RESULT "$T/load.out" | tail -n 3)"; FAILED=1; }
wait "$STREAM" || { bench_log "streams: $(grep -v STREAM_RESULT "$T/stream.out" | tail -n 3)"; FAILED=1; }
sample >>"$SAMPLES"
# the load is gone: its connections close, the buckets drain (a second of idle)
sleep 3
fd1=$(find "/proc/$SPID/fd" -mindepth 1 -maxdepth 1 | wc -l)
buckets=$(metric sluice_limit_buckets)
taken=$(grep -c 'reloaded config=' "$T/sluiced.log" || true)

load=$(grep LOAD_RESULT "$T/load.out" || true)
streams=$(grep STREAM_RESULT "$T/stream.out" || true)
[ -n "$load" ] && eval "${load#LOAD_RESULT }" || { bench_log "load: no result ($(tail -n 2 "$T/load.out"))"; FAILED=1; }
lerrors=${errors:-1}
[ -n "$streams" ] && eval "${streams#STREAM_RESULT }" || { bench_log "streams: no result ($(tail -n 2 "$T/stream.out"))"; FAILED=1; }

echo
echo "| t s | RSS KiB | fds | limit buckets |"
echo "|---|---|---|---|"
awk '{ printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4 }' "$SAMPLES"
first=$(awk -v t=$((DUR / 5)) '$1 >= t { print $2; exit }' "$SAMPLES")
last=$(tail -n 1 "$SAMPLES" | awk '{ print $2 }')
growth=$(awk -v a="${first:-0}" -v b="${last:-0}" 'BEGIN { printf "%.2f", (a > 0 ? (b - a) * 100 / a : 0) }')
echo
echo "load: sent ${sent:-?} done ${done:-?} errors $lerrors at ${rate:-?} req/s, p50 ${p50:-?} us, p99 ${p99:-?} us"
echo "streams: ${chunks:-?} token chunks, gap p99 ${gap_p99:-?} us"
echo "reloads: $hups sent, $taken taken; descriptors $fd0 before the load, $fd1 after; limit buckets after: $buckets"

echo
echo "== targets (issue 7)"
printf '   failed requests          %6s      (0)        %s\n' "$lerrors" "$(bench_met "$lerrors" '<=' 0)"
printf '   reloads taken            %6s/%-5s (all)      %s\n' "$taken" "$hups" "$(bench_met "$taken" '>=' "$hups")"
printf '   RSS growth               %6s %%    (< 5)      %s\n' "$growth" "$(bench_met "$growth" '<=' 4.99)"
printf '   descriptors after        %6s      (<= %s)    %s\n' "$fd1" "$fd0" "$(bench_met "$fd1" '<=' "$fd0")"
printf '   limit buckets after      %6s      (<= 1)     %s\n' "$buckets" "$(bench_met "$buckets" '<=' 1)"

if [ $FAILED != 0 ]; then
	bench_log "some steps failed (see above)"
	exit 1
fi
exit 0
