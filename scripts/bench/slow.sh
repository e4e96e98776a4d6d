#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The clients' result lines (KEY=VALUE ...) are eval'ed into variables:
# shellcheck disable=SC2154
#
# slow.sh [--quick]: what slow clients cost legitimate ones, in one run on
# 127.0.0.1 against build/mockllm, for sluiced and for nginx (the baseline:
# the same attack on the same machine). Each round runs wrk five times, in
# an order rotated every round:
#   base    wrk alone against the proxy
#   attack  wrk while slowhttptest holds $SLOW connections open to the same
#           proxy: 3/4 Slowloris (a header line every 5 s) and 1/4 slow
#           bodies (about 2 KB a second: above body_min_rate, so they live to
#           body_timeout)
#   decoy   (sluiced only) wrk against sluiced while the same attack goes
#           to nginx on the same machine: what the attack costs the
#           machine (the attacker's CPU, the kernel's), not sluiced
# The attack's connections are all open, and $SETTLE s old, before wrk
# starts, and are closed (slowhttptest stopped) before the next run.
# Figures: wrk's p99 under attack against its base (target <= 2x, issue 7),
# against the decoy run's and against nginx's under the same attack, req/s,
# CPU use, and each proxy's RSS per open slow connection (target <= 32 KiB).
# CPUs: the proxy (sluiced: 2 workers; nginx: 1 worker) and the mock on CPU
# $PROXY_CPU; wrk and slowhttptest on CPU $CLIENT_CPU, slowhttptest in the
# idle scheduling class so that it takes only what wrk leaves: on 2 CPUs
# the attacker shares the client's. slowhttptest polls its sockets in a
# busy loop (some 12 000 poll() calls a second), so it still takes most
# of that CPU: each run's CPU use is printed (both CPUs' busy and softirq
# shares, slowhttptest's share), and "attack / decoy" is the cost the
# attack puts on sluiced itself.
# Knobs (environment): ROUNDS DUR WARM_DUR CONNS SLOW SETTLE. --quick: 1
# short round of 400 slow connections; exits non-zero if any step fails (a
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
SETTLE=${SETTLE:-2}
PROXY_CPU=0
MOCK_CPU=0
CLIENT_CPU=1
RUNS="sluiced-base sluiced-attack sluiced-decoy nginx-base nginx-attack"

bench_init slow-bench
bench_need wrk slowhttptest nginx taskset chrt setsid timeout ss awk curl
[ "$(nproc)" -ge 2 ] || bench_die "needs 2 CPUs"

bench_bins sluiced mockllm
bench_chat_body
bench_pick_ports 3
MOCK_PORT=${BENCH_PORTS[0]} PORT=${BENCH_PORTS[1]} NGINX_PORT=${BENCH_PORTS[2]}
ADMIN=$T/admin.sock
HEADS=$((SLOW * 3 / 4))
BODIES=$((SLOW - HEADS))
ulimit -Sn "$(ulimit -Hn)"
NOFILE=$(ulimit -n)

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
echo "== $(nginx -v 2>&1 | sed 's/.*: //'), $(wrk -v 2>&1 | awk 'NR == 1 { print $1, $2 }'), $(slowhttptest -h 2>&1 | sed -n 's/.*version \([0-9.]*\).*/slowhttptest \1/p' | head -n 1)," \
	"$(bench_sluiced_rev)"
echo "== CPUs: the proxy and the mock on $PROXY_CPU; wrk and slowhttptest (idle class) on $CLIENT_CPU"

bench_spawn "$T/mock.log" taskset -c $MOCK_CPU "$T/mockllm" --listen "127.0.0.1:$MOCK_PORT" --threads 1
bench_wait_http "http://127.0.0.1:$MOCK_PORT" "$T/body.json"
bench_spawn "$T/sluiced.log" taskset -c $PROXY_CPU "$T/sluiced" -c "$T/sluice.json"
declare -A PG PORTS SPID
PG[sluiced]=$BENCH_PID PORTS[sluiced]=$PORT
bench_wait_http "http://127.0.0.1:$PORT" "$T/body.json"
SPID[sluiced]=$(pgrep -g "${PG[sluiced]}" -x sluiced | head -n 1)
sed -e "s#@DIR@#$T#g" -e "s#@PORT@#$NGINX_PORT#g" -e "s#@UPSTREAM@#127.0.0.1:$MOCK_PORT#g" \
	-e "s#@NOFILE@#$NOFILE#g" "$ROOT/scripts/bench/slow_nginx.conf" >"$T/nginx.conf"
bench_spawn "$T/nginx.log" taskset -c $PROXY_CPU nginx -c "$T/nginx.conf" -p "$T"
PG[nginx]=$BENCH_PID PORTS[nginx]=$NGINX_PORT
bench_wait_http "http://127.0.0.1:$NGINX_PORT" "$T/body.json"
# the worker's RSS: the master holds no connection
SPID[nginx]=$(pgrep -P "$(pgrep -g "${PG[nginx]}" -x nginx | head -n 1)" | head -n 1)
[ -n "${SPID[nginx]}" ] || bench_die "no nginx worker"

# open PROXY: the proxy's established client connections
open_conns() {
	ss -Htn state established "( sport = :${PORTS[$1]} )" | wc -l
}
rss_kib() { awk '$1 == "VmRSS:" { print $2 }' "/proc/${SPID[$1]}/status"; }
# per CPU: "busy total softirq" jiffies, CPUs in order (iowait counts as idle)
cpu_snap() { awk '/^cpu[0-9]/ { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $8 }' /proc/stat | tr '\n' ' '; }
# CPU_USE "SNAP0" "SNAP1" ATTACK_TICKS: busy and softirq % of the proxy's and
# the client's CPUs between the snaps, and the attacker's % of the client's
cpu_use() {
	awk -v a="$1" -v b="$2" -v t="$3" -v p=$PROXY_CPU -v c=$CLIENT_CPU 'BEGIN {
		split(a, x); split(b, y)
		for (i = 0; i < 2; i++) {
			k = (i ? c : p) * 3
			tot = y[k + 2] - x[k + 2]
			if (tot <= 0) tot = 1
			busy[i] = (y[k + 1] - x[k + 1]) * 100 / tot; soft[i] = (y[k + 3] - x[k + 3]) * 100 / tot
			if (i) att = t * 100 / tot
		}
		printf "%.0f %.0f %.0f %.0f %.0f", busy[0], soft[0], busy[1], soft[1], att }'
}
attack_ticks() {
	local pg t=0

	for pg in "${ATTACK[@]}"; do
		t=$((t + $(bench_group_ticks "$pg")))
	done
	echo $t
}

# attack_start PROXY: slowhttptest's connections, all open (or a failure)
ATTACK=()
attack_start() {
	local want=$((SLOW * 95 / 100)) port=${PORTS[$1]} i
	bench_spawn "$T/slow-h.log" taskset -c $CLIENT_CPU chrt -i 0 slowhttptest -H -c "$HEADS" -r 1000 -i 5 -x 8 \
		-l 600 -p 5 -u "http://127.0.0.1:$port/v1/models"
	ATTACK=("$BENCH_PID")
	bench_spawn "$T/slow-b.log" taskset -c $CLIENT_CPU chrt -i 0 slowhttptest -B -c "$BODIES" -r 1000 -i 1 -x 2000 \
		-s 4000000 -l 600 -p 5 -t POST -f application/json -u "http://127.0.0.1:$port/v1/chat/completions"
	ATTACK+=("$BENCH_PID")
	for i in $(seq 150); do
		if [ "$(open_conns "$1")" -ge "$want" ]; then
			sleep "$SETTLE"
			return 0
		fi
		sleep 0.1
	done
	bench_log "$1: only $(open_conns "$1") of $SLOW slow connections open after 15 s"
	return 1
}
attack_stop() {
	local pg i
	for pg in "${ATTACK[@]}"; do
		bench_stop "$pg"
	done
	ATTACK=()
	for i in $(seq 100); do
		[ "$(open_conns "$1")" -eq 0 ] && return 0
		sleep 0.1
	done
	bench_log "$1: $(open_conns "$1") connections still open after the attack stopped"
}

FAILED=0
TPUT=$T/tput.txt
MEM=$T/mem.txt
CPU=$T/cpu.txt
: >"$TPUT"
: >"$MEM"
: >"$CPU"
echo
echo "== wrk -t1 -c$CONNS -d${DUR}s -s proxy_chat.lua, plain HTTP, $ROUNDS rounds, $WARMTXT;" \
	"attack: $HEADS slow heads + $BODIES slow bodies"
for round in $(seq "$FIRST" "$ROUNDS"); do
	d=$DUR
	[ "$round" = 0 ] && d=$WARM_DUR
	for run in $(bench_rotate "$round" $RUNS); do
		p=${run%-*}
		# the attack's target: the proxy wrk measures, or (decoy) the other one
		case ${run#*-} in
		attack) at=$p ;;
		decoy) at=nginx ;;
		*) at= ;;
		esac
		if [ -n "$at" ]; then
			base_rss=$(rss_kib "$p")
			attack_start "$at" || FAILED=1
			open=$(open_conns "$p")
		fi
		c0=$(cpu_snap) a0=$(attack_ticks)
		bench_wrk_round "$TPUT" "$round" "$run" "${PG[$p]}" "$d" slow \
			"http://127.0.0.1:${PORTS[$p]}/v1/chat/completions" || FAILED=1
		use=$(cpu_use "$c0" "$(cpu_snap)" $(($(attack_ticks) - a0)))
		read -r b0 s0 b1 s1 share <<<"$use"
		[ "$round" = 0 ] || { echo "$round $run $use" >>"$CPU"; printf '   round %d %s: CPU %d busy %d%% (softirq %d%%), CPU %d busy %d%% (softirq %d%%, slowhttptest %d%%)\n' \
			"$round" "$run" $PROXY_CPU "$b0" "$s0" $CLIENT_CPU "$b1" "$s1" "$share" >&2; }
		if [ "${run#*-}" = attack ]; then
			r=$(rss_kib "$p")
			still=$(open_conns "$p")
			[ "$round" = 0 ] || echo "$round $p $open $still $(( (r - base_rss) * 1024 / (open > 0 ? open : 1) ))" >>"$MEM"
			[ "$round" = 0 ] || printf '   round %d %s: %d slow connections open at the start, %d at the end, RSS %d -> %d KiB\n' \
				"$round" "$p" "$open" "$still" "$base_rss" "$r" >&2
		fi
		[ -z "$at" ] || attack_stop "$at"
	done
done

echo
echo "| run | req/s | p50 µs | p99 µs | p99 / its base | p99 / nginx's (same run) |"
echo "|---|---|---|---|---|---|"
for run in $RUNS; do
	vs=nginx-${run#*-}
	[ "$run" = sluiced-decoy ] && vs=nginx-base
	echo "| $run | $(bench_stat "$TPUT" "$run" 3) | $(bench_stat "$TPUT" "$run" 4) | $(bench_stat "$TPUT" "$run" 5) |" \
		"$(bench_ratio "$TPUT" "$run" "${run%-*}-base" 5) | $(bench_ratio "$TPUT" "$run" "$vs" 5) |"
done
echo
echo "| run | CPU $PROXY_CPU busy % (softirq) | CPU $CLIENT_CPU busy % (softirq) | slowhttptest % of CPU $CLIENT_CPU | proxy CPU µs / request |"
echo "|---|---|---|---|---|"
for run in $RUNS; do
	col() { awk -v n="$run" -v f="$1" '$2 == n { print $f }' "$CPU" | bench_summary; }
	echo "| $run | $(col 3) ($(col 4)) | $(col 5) ($(col 6)) | $(col 7) | $(bench_stat "$TPUT" "$run" 6 %.1f) |"
done
echo
for p in sluiced nginx; do
	echo "$p: slow connections open during wrk: $(awk -v p=$p '$2 == p { print $3 }' "$MEM" | bench_summary) at the start," \
		"$(awk -v p=$p '$2 == p { print $4 }' "$MEM" | bench_summary) at the end; RSS per open slow connection:" \
		"$(awk -v p=$p '$2 == p { print $5 }' "$MEM" | bench_summary) bytes"
done

echo
echo "== targets (issue 7)"
ratio() {	# RUN BASE: the median over rounds of RUN's p99 over BASE's
	awk -v n="$1" -v b="$2" '$1 >= 1 && $2 == n { v[$1] = $5 } $1 >= 1 && $2 == b { w[$1] = $5 }
		END { for (r in v) if (r in w && w[r] > 0) print v[r] / w[r] }' "$TPUT" | bench_median
}
own=$(ratio sluiced-attack sluiced-base)
ng=$(ratio nginx-attack nginx-base)
vs=$(ratio sluiced-attack nginx-attack)
decoy=$(ratio sluiced-decoy sluiced-base)
self=$(ratio sluiced-attack sluiced-decoy)
mem=$(awk '$2 == "sluiced" { print $5 }' "$MEM" | bench_median)
printf '   p99 under attack / base     %6.2f x    (<= 2)        %s   (nginx: %.2f x)\n' \
	"${own:-0}" "$(bench_met "${own:-0}" '<=' 2)" "${ng:-0}"
printf '   p99 under attack / nginx    %6.2f x    (<= 1)        %s\n' "${vs:-0}" "$(bench_met "${vs:-0}" '<=' 1)"
printf '   p99 under attack / decoy    %6.2f x    (<= 2)        %s   (the attack aimed at nginx: %.2f x its base)\n' \
	"${self:-0}" "$(bench_met "${self:-0}" '<=' 2)" "${decoy:-0}"
printf '   RSS per slow connection    %6d B    (<= 32768)    %s\n' "${mem:-0}" "$(bench_met "${mem:-0}" '<=' 32768)"

if [ $FAILED != 0 ]; then
	bench_log "some steps failed (see above)"
	exit 1
fi
exit 0
