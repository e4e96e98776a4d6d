#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The clients' result lines (KEY=VALUE ...) are eval'ed into variables:
# shellcheck disable=SC2154
#
# slow.sh [--quick]: what slow clients cost legitimate ones, in one run on
# 127.0.0.1 against build/mockllm. Each round runs wrk twice against the
# same sluiced, in an order rotated every round:
#   base    wrk alone
#   attack  wrk while slowhttptest holds $SLOW connections open: 3/4
#           Slowloris (a header line every 5 s) and 1/4 slow bodies (about 2 KB
#           a second: above body_min_rate, so they live to body_timeout)
# The attack's connections are all open before wrk starts and are closed
# (slowhttptest stopped) before the next run. Figures: wrk's p99 under
# attack against base (target <= 2x, issue 7), req/s, and sluiced's RSS
# per open slow connection (target <= 32 KiB).
# CPUs: sluiced (2 workers) and the mock on CPU $PROXY_CPU; wrk and
# slowhttptest on CPU $CLIENT_CPU.
# Knobs (environment): ROUNDS DUR WARM_DUR CONNS SLOW. --quick: 1 short
# round of 400 slow connections; exits non-zero if any step fails (a
# missed target is not).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib.sh
. "$ROOT/scripts/bench/lib.sh"

bench_args slow.sh "$@"

if [ $QUICK = 1 ]; then
	ROUNDS=${ROUNDS:-1} DUR=${DUR:-3} WARM_DUR=${WARM_DUR:-1} SLOW=${SLOW:-400}
	FIRST=1
	WARMTXT="no warm-up round"
else
	ROUNDS=${ROUNDS:-5} DUR=${DUR:-10} WARM_DUR=${WARM_DUR:-3} SLOW=${SLOW:-2000}
	FIRST=0
	WARMTXT="after a warm-up round"
fi
CONNS=${CONNS:-16}
PROXY_CPU=0
MOCK_CPU=0
CLIENT_CPU=1

bench_init slow-bench
bench_need wrk slowhttptest taskset setsid timeout ss awk curl
[ "$(nproc)" -ge 2 ] || bench_die "needs 2 CPUs"

BUILD=${SLUICE_BUILD:-$ROOT/build}
for f in sluiced mockllm; do
	[ -x "$BUILD/$f" ] || bench_die "$BUILD/$f not built (make)"
	cp "$BUILD/$f" "$BENCH_TMP/$f"
done
T=$BENCH_TMP
LUA=$ROOT/scripts/bench/proxy_chat.lua
sed -n 's/^local body = \[\[\(.*\)\]\] -- BODY$/\1/p' "$LUA" >"$T/body.json"
[ -s "$T/body.json" ] || bench_die "no BODY line in $LUA"
bench_pick_ports 2
MOCK_PORT=${BENCH_PORTS[0]} PORT=${BENCH_PORTS[1]}
ADMIN=$T/admin.sock
HEADS=$((SLOW * 3 / 4))
BODIES=$((SLOW - HEADS))
ulimit -Sn "$(ulimit -Hn)"

cat >"$T/sluice.json" <<EOF
{
  "workers": 2,
  "listeners": [ { "name": "plain", "address": "127.0.0.1:$PORT" } ],
  "http": { "header_timeout": "60s", "body_timeout": "60s", "body_min_rate": "1KiB/s",
            "idle_timeout": "5m" },
  "admin": { "address": "unix:$ADMIN" },
  "pools": { "mock": { "backends": [ { "url": "http://127.0.0.1:$MOCK_PORT" } ] } },
  "routes": [ { "name": "all", "pool": "mock" } ]
}
EOF

echo "== $(date -u '+%F %T UTC'), $(uname -r), $(nproc) CPUs: $(lscpu | sed -n 's/^Model name: *//p')"
echo "== $(wrk -v 2>&1 | awk 'NR == 1 { print $1, $2 }'), $(slowhttptest -h 2>&1 | sed -n 's/.*version \([0-9.]*\).*/slowhttptest \1/p' | head -n 1)," \
	"sluiced $("$T/sluiced" --version 2>&1 | awk '{ print $NF }') ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo ?)$( [ -n "$(git -C "$ROOT" status --porcelain -- user/gw 2>/dev/null)" ] && echo ", user/gw modified"))"
echo "== CPUs: sluiced and mock on $PROXY_CPU; wrk and slowhttptest on $CLIENT_CPU"

bench_spawn "$T/mock.log" taskset -c $MOCK_CPU "$T/mockllm" --listen "127.0.0.1:$MOCK_PORT" --threads 1
bench_wait_http "http://127.0.0.1:$MOCK_PORT" "$T/body.json"
bench_spawn "$T/sluiced.log" taskset -c $PROXY_CPU "$T/sluiced" -c "$T/sluice.json"
PG=$BENCH_PID
bench_wait_http "http://127.0.0.1:$PORT" "$T/body.json"
SPID=$(pgrep -g "$PG" -x sluiced | head -n 1)

active() {
	curl -s --max-time 5 --unix-socket "$ADMIN" http://sluice/metrics |
		awk '$1 ~ /^sluice_connections_active/ { s += $2 } END { print s + 0 }'
}
rss_kib() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$SPID/status"; }

# attack_start: slowhttptest's connections, all open (or a failure)
ATTACK=()
attack_start() {
	local want=$((SLOW * 95 / 100)) i
	bench_spawn "$T/slow-h.log" taskset -c $CLIENT_CPU slowhttptest -H -c "$HEADS" -r 1000 -i 5 -x 8 \
		-l 600 -p 5 -u "http://127.0.0.1:$PORT/v1/models"
	ATTACK=("$BENCH_PID")
	bench_spawn "$T/slow-b.log" taskset -c $CLIENT_CPU slowhttptest -B -c "$BODIES" -r 1000 -i 1 -x 2000 \
		-s 4000000 -l 600 -p 5 -t POST -f application/json -u "http://127.0.0.1:$PORT/v1/chat/completions"
	ATTACK+=("$BENCH_PID")
	for i in $(seq 150); do
		[ "$(active)" -ge "$want" ] && return 0
		sleep 0.1
	done
	bench_log "only $(active) of $SLOW slow connections open after 15 s"
	return 1
}
attack_stop() {
	local pg i
	for pg in "${ATTACK[@]}"; do
		bench_stop "$pg"
	done
	ATTACK=()
	for i in $(seq 100); do
		[ "$(active)" -le 1 ] && return 0
		sleep 0.1
	done
	bench_log "$(active) connections still open after the attack stopped"
}

FAILED=0
TPUT=$T/tput.txt
MEM=$T/mem.txt
: >"$TPUT"
: >"$MEM"
echo
echo "== wrk -t1 -c$CONNS -d${DUR}s -s proxy_chat.lua, plain HTTP, $ROUNDS rounds, $WARMTXT;" \
	"attack: $HEADS slow heads + $BODIES slow bodies"
rss0=$(rss_kib)
for round in $(seq "$FIRST" "$ROUNDS"); do
	d=$DUR
	[ "$round" = 0 ] && d=$WARM_DUR
	for who in $(bench_rotate "$round" base attack); do
		if [ "$who" = attack ]; then
			base_rss=$(rss_kib)
			attack_start || FAILED=1
			open=$(active)
		fi
		bench_wrk_round "$TPUT" "$round" "$who" "$PG" "$d" slow \
			"http://127.0.0.1:$PORT/v1/chat/completions" || FAILED=1
		if [ "$who" = attack ]; then
			r=$(rss_kib)
			still=$(active)
			[ "$round" = 0 ] || echo "$round $open $still $(( (r - base_rss) * 1024 / (open > 0 ? open : 1) ))" >>"$MEM"
			[ "$round" = 0 ] || printf '   round %d: %d slow connections open at the start, %d at the end, RSS %d -> %d KiB\n' \
				"$round" "$open" "$still" "$base_rss" "$r" >&2
			attack_stop
		fi
	done
done

echo
echo "| run | req/s | p50 µs | p99 µs | p99 / base |"
echo "|---|---|---|---|---|"
for who in base attack; do
	echo "| $who | $(bench_stat "$TPUT" $who 3) | $(bench_stat "$TPUT" $who 4) | $(bench_stat "$TPUT" $who 5) |" \
		"$(bench_ratio "$TPUT" $who base 5) |"
done
per=$(awk '{ print $4 }' "$MEM" | bench_summary)
echo
echo "slow connections open during wrk: $(awk '{ print $2 }' "$MEM" | bench_summary) at the start," \
	"$(awk '{ print $3 }' "$MEM" | bench_summary) at the end; RSS per open slow connection: $per bytes" \
	"(RSS before the first attack: $rss0 KiB)"

echo
echo "== targets (issue 7)"
ratio=$(awk '$1 >= 1 && $2 == "attack" { v[$1] = $5 } $1 >= 1 && $2 == "base" { w[$1] = $5 }
	END { for (r in v) if (r in w && w[r] > 0) print v[r] / w[r] }' "$TPUT" | bench_median)
mem=$(awk '{ print $4 }' "$MEM" | bench_median)
printf '   p99 under attack / base   %6.2f x    (<= 2)        %s\n' "${ratio:-0}" "$(bench_met "${ratio:-0}" '<=' 2)"
printf '   RSS per slow connection   %6d B    (<= 32768)    %s\n' "${mem:-0}" "$(bench_met "${mem:-0}" '<=' 32768)"

if [ $FAILED != 0 ]; then
	bench_log "some steps failed (see above)"
	exit 1
fi
exit 0
