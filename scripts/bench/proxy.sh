#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The clients' result lines (KEY=VALUE ...) are eval'ed into variables:
# shellcheck disable=SC2154
#
# proxy.sh [--quick]: sluiced against nginx and HAProxy as a TLS-terminating
# reverse proxy in front of build/mockllm, and against the mock called
# directly, all in one run on 127.0.0.1.
#
#  1. Throughput: wrk over TLS keep-alive, $CONNS connections, one thread,
#     POSTing the ~1 KB chat request of proxy_chat.lua to
#     /v1/chat/completions: direct (plain HTTP to the mock, the ceiling),
#     nginx, HAProxy, sluiced. Round 0 warms up and is not counted; each
#     round runs every contender once, in an order rotated every round.
#     req/s, p50/p99 (wrk's), ratios to nginx of the same round, the
#     contender's own CPU time per request (utime + stime of its processes
#     over the requests: the mock's for direct), and the busy share of each
#     CPU from /proc/stat (is the generator saturated?).
#  2. Latency at a set load: proxy_client load (open loop, fixed rate, latency
#     from when each request was due) at half of sluiced's median peak from
#     step 1: direct, sluiced (TLS), sluiced's plain listener (the proxy
#     without TLS), nginx. Added latency = contender minus direct, per round.
#  3. Streaming: proxy_client stream, $TOKENS-token SSE answers with the
#     mock's token interval $INTERVAL (x-mock-* request headers), direct vs
#     through sluiced: gaps between token chunks at the client, and each
#     chunk's lateness against the mock's schedule (token k due k intervals
#     after the head), which also catches chunks held back and sent in a
#     burst (short gaps, late chunks). Added = sluiced minus direct, per round.
#  4. Memory: fresh sluiced and nginx instances, $IDLE_N idle keep-alive TLS
#     connections each (handshake and one request done: proxy_client idle);
#     (Pss with them - Pss before) / N, from /proc/PID/smaps_rollup summed
#     over the proxy's processes (nginx: master and worker). HAProxy is left
#     out here: it sizes its fd table from maxconn and the hard fd limit of
#     these machines (20000) lets it hold fewer than 10,000 TLS connections.
#
# CPUs (2 cores): every proxy runs on CPU $PROXY_CPU (taskset, 1 worker /
# 1 thread each); the load generators (wrk, proxy_client) on CPU
# $CLIENT_CPU. The mock (1 thread) shares CPU $MOCK_CPU with the proxy: on
# the client's CPU it would starve wrk, whose TLS work already fills most
# of that core, and the benchmark would measure the generator. So each
# proxy's figure includes the mock's cost per request, the same for every
# contender; "direct" gives the mock that core alone. Loopback softirq work
# runs on the sending CPU, so part of each proxy's receive path is paid on
# the client's CPU.
#
# Every process runs in its own group and is stopped on exit; ports are
# picked free on 127.0.0.1; certificates and configs live in a temp dir.
# Knobs (environment): ROUNDS DUR WARM_DUR LAT_DUR STREAMS TOKENS INTERVAL
# IDLE_N MEM_ROUNDS CONNS. --quick: 1 short round of every step, no warm-up
# (a smoke test, about 25 s); exits non-zero if any step fails (a missed
# target is not a failure).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib.sh
. "$ROOT/scripts/bench/lib.sh"

bench_args proxy.sh "$@"

if [ $QUICK = 1 ]; then
	ROUNDS=${ROUNDS:-1} DUR=${DUR:-1} WARM_DUR=${WARM_DUR:-1} LAT_DUR=${LAT_DUR:-1}
	STREAMS=${STREAMS:-2} TOKENS=${TOKENS:-20} IDLE_N=${IDLE_N:-200} MEM_ROUNDS=${MEM_ROUNDS:-1}
	FIRST=1		# no warm-up round
	WARMTXT="no warm-up round"
else
	ROUNDS=${ROUNDS:-5} DUR=${DUR:-8} WARM_DUR=${WARM_DUR:-3} LAT_DUR=${LAT_DUR:-5}
	STREAMS=${STREAMS:-5} TOKENS=${TOKENS:-200} IDLE_N=${IDLE_N:-10000} MEM_ROUNDS=${MEM_ROUNDS:-2}
	FIRST=0		# round 0 warms up and is not counted
	WARMTXT="after a warm-up round"
fi
CONNS=${CONNS:-32}
INTERVAL=${INTERVAL:-1ms}
PROXY_CPU=0
MOCK_CPU=0
CLIENT_CPU=1

bench_init proxy-bench
bench_need wrk nginx haproxy openssl taskset setsid timeout ss awk cc
[ "$(nproc)" -ge 2 ] || bench_die "needs 2 CPUs"

bench_bins sluiced mockllm
CLIENT=$BUILD/bench/proxy_client
if ! [ -x "$CLIENT" ] || [ "$CLIENT" -ot "$ROOT/scripts/bench/proxy_client.c" ]; then
	CLIENT=$BENCH_TMP/proxy_client
	cc -std=gnu11 -O2 -D_GNU_SOURCE -o "$CLIENT" "$ROOT/scripts/bench/proxy_client.c" -lssl -lcrypto -lpthread ||
		bench_die "cannot build proxy_client"
fi
bench_chat_body
echo '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Count for me."}]}' \
	>"$T/stream.json"

# File descriptors: 10,000 client sockets in one process, as many in the proxy
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
[ "$NOFILE" -ge $((IDLE_N + 500)) ] || bench_die "ulimit -n is $NOFILE; $IDLE_N idle connections need more"

# --- setup -----------------------------------------------------------------

bench_cert "$T"
cat "$T/cert.pem" "$T/key.pem" >"$T/haproxy.pem"

bench_pick_ports 9
PORTS=("${BENCH_PORTS[@]}")
MOCK_PORT=${PORTS[0]} NGINX_PORT=${PORTS[1]} HAP_PORT=${PORTS[2]} SL_PORT=${PORTS[3]}
SL_PLAIN_PORT=${PORTS[4]} MEM_PORTS=("${PORTS[@]:5:4}")

sluiced_conf() {	# PORT PLAIN_PORT|- FILE
	local plain=

	[ "$2" = - ] || plain=", { \"name\": \"plain\", \"address\": \"127.0.0.1:$2\" }"
	cat >"$3" <<-EOF
	{
	  "workers": 1,
	  "listeners": [
	    { "name": "tls", "address": "127.0.0.1:$1",
	      "tls": { "certificates": [ { "cert": "$T/cert.pem", "key": "$T/key.pem" } ] } }$plain
	  ],
	  "http": { "idle_timeout": "5m" },
	  "pools": { "mock": { "backends": [ { "url": "http://127.0.0.1:$MOCK_PORT" } ] } },
	  "routes": [ { "name": "all", "pool": "mock" } ]
	}
	EOF
}

template() {	# SRC PORT DST
	sed -e "s#@DIR@#$T#g" -e "s#@PORT@#$2#g" -e "s#@UPSTREAM@#127.0.0.1:$MOCK_PORT#g" \
		-e "s#@NOFILE@#$NOFILE#g" "$1" >"$3"
}


# start_proxy KIND PORT: a fresh instance on CPU $PROXY_CPU; sets PROXY_PID (group leader)
start_proxy() {
	local kind=$1 port=$2 dir=$T/$1-$2

	mkdir -p "$dir"
	case $kind in
	sluiced)
		sluiced_conf "$port" "${3:--}" "$dir/sluice.json"
		"$T/sluiced" --check "$dir/sluice.json" >/dev/null || bench_die "sluiced --check failed"
		bench_spawn "$dir/log" taskset -c $PROXY_CPU "$T/sluiced" -c "$dir/sluice.json"
		;;
	nginx)
		template "$ROOT/scripts/bench/proxy_nginx.conf" "$port" "$dir/nginx.conf"
		sed -i "s#$T/nginx#$dir/nginx#g" "$dir/nginx.conf"
		bench_spawn "$dir/log" taskset -c $PROXY_CPU nginx -c "$dir/nginx.conf" -p "$dir"
		;;
	haproxy)
		template "$ROOT/scripts/bench/proxy_haproxy.conf" "$port" "$dir/haproxy.cfg"
		bench_spawn "$dir/log" taskset -c $PROXY_CPU haproxy -db -f "$dir/haproxy.cfg"
		;;
	esac
	PROXY_PID=$BENCH_PID
	bench_wait_http "https://127.0.0.1:$port" "$T/body.json"
}


# Pss and Rss in KiB, summed over a process group
group_mem() {
	local pid pss=0 rss=0 a b

	for pid in $(pgrep -g "$1"); do
		read -r a b < <(awk '/^Pss:/ { p = $2 } /^Rss:/ { r = $2 } END { print p + 0, r + 0 }' \
			"/proc/$pid/smaps_rollup" 2>/dev/null || echo "0 0")
		pss=$((pss + a))
		rss=$((rss + b))
	done
	echo "$pss $rss"
}

echo "== $(date -u '+%F %T UTC'), $(uname -r), $(nproc) CPUs: $(lscpu | sed -n 's/^Model name: *//p')"
echo "== $(nginx -v 2>&1 | sed 's/.*: //'), HAProxy $(haproxy -v | awk 'NR == 1 { print $3 }'), $(wrk -v 2>&1 | awk 'NR == 1 { print $1, $2 }'), $(openssl version | awk '{ print $1, $2 }'), $(bench_sluiced_rev)"
echo "== CPUs: proxy and mock on $PROXY_CPU, clients on $CLIENT_CPU; load average $(cut -d' ' -f1-3 /proc/loadavg)"

declare -A PG
bench_spawn "$T/mock.log" taskset -c $MOCK_CPU "$T/mockllm" --listen "127.0.0.1:$MOCK_PORT" --threads 1
PG[direct]=$BENCH_PID
bench_wait_http "http://127.0.0.1:$MOCK_PORT" "$T/body.json"
start_proxy nginx "$NGINX_PORT"
PG[nginx]=$PROXY_PID
start_proxy haproxy "$HAP_PORT"
PG[haproxy]=$PROXY_PID
start_proxy sluiced "$SL_PORT" "$SL_PLAIN_PORT"
PG[sluiced]=$PROXY_PID

declare -A URL=(
	[direct]=http://127.0.0.1:$MOCK_PORT [nginx]=https://127.0.0.1:$NGINX_PORT
	[haproxy]=https://127.0.0.1:$HAP_PORT [sluiced]=https://127.0.0.1:$SL_PORT
	[sluiced-plain]=http://127.0.0.1:$SL_PLAIN_PORT
)
FAILED=0





# --- 1. throughput -----------------------------------------------------------

echo
echo "== 1. throughput: wrk -t1 -c$CONNS -d${DUR}s -s proxy_chat.lua, $ROUNDS rounds, $WARMTXT"
TPUT=$T/tput.txt
: >"$TPUT"
for round in $(seq "$FIRST" "$ROUNDS"); do
	d=$DUR
	[ "$round" = 0 ] && d=$WARM_DUR
	for who in $(bench_rotate "$round" direct nginx haproxy sluiced); do
		before=$(bench_cpu_snap)
		ticks=$(bench_group_ticks "${PG[$who]}")
		out=$(timeout $((${d%.*} + 15)) taskset -c $CLIENT_CPU wrk -t1 -c"$CONNS" -d"${d}s" -s "$LUA" \
			"${URL[$who]}/v1/chat/completions" 2>&1 | grep WRK_RESULT) || out=
		after=$(bench_cpu_snap)
		ticks=$(($(bench_group_ticks "${PG[$who]}") - ticks))
		if [ -z "$out" ]; then
			bench_log "round $round $who: wrk failed"
			FAILED=1
			continue
		fi
		eval "${out#WRK_RESULT }"
		if [ "$status" != 0 ] || [ "$errors" != 0 ]; then
			bench_log "round $round $who: $status error answers, $errors socket errors"
			FAILED=1
		fi
		echo "$round $who $rps $p50 $p99 $(bench_cpu_pct "$before" "$after" cpu$PROXY_CPU busy)" \
			"$(bench_cpu_pct "$before" "$after" cpu$CLIENT_CPU busy) $((status + errors))" \
			"$(awk -v t="$ticks" -v hz="$BENCH_HZ" -v n="$reqs" 'BEGIN { printf "%.1f", n ? t / hz * 1e6 / n : 0 }')" \
			>>"$TPUT"
		[ "$round" = 0 ] || printf '   round %d %-8s %9.0f req/s  p50 %6d us  p99 %7d us\n' \
			"$round" "$who" "$rps" "$p50" "$p99" >&2
	done
done

echo
echo "| contender | req/s | × nginx | p50 µs | p99 µs | CPU µs/req | CPU$PROXY_CPU busy % | CPU$CLIENT_CPU busy % | failed |"
echo "|---|---|---|---|---|---|---|---|---|"
for who in direct nginx haproxy sluiced; do
	echo "| $who | $(bench_stat "$TPUT" $who 3) | $(bench_ratio "$TPUT" $who nginx 3) |" \
		"$(bench_stat "$TPUT" $who 4) | $(bench_stat "$TPUT" $who 5) | $(bench_stat "$TPUT" $who 9 %.1f) |" \
		"$(bench_stat "$TPUT" $who 6) |" \
		"$(bench_stat "$TPUT" $who 7) | $(awk -v n=$who '$1 >= 1 && $2 == n { s += $8 } END { print s + 0 }' "$TPUT") |"
done
SL_PEAK=$(awk '$1 >= 1 && $2 == "sluiced" { print $3 }' "$TPUT" | bench_median)
NG_PEAK=$(awk '$1 >= 1 && $2 == "nginx" { print $3 }' "$TPUT" | bench_median)
[ -n "$SL_PEAK" ] || SL_PEAK=0

# --- 2. latency at half of sluiced's peak --------------------------------------

RATE=$(awk -v p="$SL_PEAK" 'BEGIN { r = int(p / 2); print r < 100 ? 100 : r }')
echo
echo "== 2. latency at a fixed $RATE req/s (half of sluiced's median peak), proxy_client load," \
	"$CONNS connections, ${LAT_DUR}s after 0.5s warm-up, $ROUNDS rounds, $WARMTXT"
LAT=$T/lat.txt
: >"$LAT"
for round in $(seq "$FIRST" "$ROUNDS"); do
	d=$LAT_DUR
	[ "$round" = 0 ] && d=1
	for who in $(bench_rotate "$round" direct sluiced sluiced-plain nginx); do
		port=${URL[$who]##*:}
		tls=
		[ "${URL[$who]%%:*}" = https ] && tls=--tls
		out=$(timeout $((${d%.*} + 15)) taskset -c $CLIENT_CPU "$CLIENT" load --port "$port" $tls \
			--body "$T/body.json" --rate "$RATE" --duration "$d" --warmup 0.5 --conns "$CONNS" \
			2>&1 | grep LOAD_RESULT) || out=
		if [ -z "$out" ]; then
			bench_log "round $round $who: proxy_client load failed"
			FAILED=1
			continue
		fi
		eval "${out#LOAD_RESULT }"
		if [ "$errors" != 0 ] || [ "$sent" != "$done" ]; then
			bench_log "round $round $who: $out"
			FAILED=1
		fi
		echo "$round $who $p50 $p99 $p999 $achieved" >>"$LAT"
	done
done
echo
echo "| at $RATE req/s | p50 µs | p99 µs | p99.9 µs | added p50 µs | added p99 µs |"
echo "|---|---|---|---|---|---|"
for who in direct sluiced sluiced-plain nginx; do
	if [ $who = direct ]; then
		add="| - | - |"
	else
		add="| $(bench_diff "$LAT" $who direct 3) | $(bench_diff "$LAT" $who direct 4) |"
	fi
	echo "| $who | $(bench_stat "$LAT" $who 3) | $(bench_stat "$LAT" $who 4) | $(bench_stat "$LAT" $who 5) $add"
done

# --- 3. inter-chunk delay on a stream --------------------------------------------

echo
echo "== 3. streams: $STREAMS x $TOKENS tokens, one every $INTERVAL (mock), per round; token" \
	"chunks timed at the client; $ROUNDS rounds, $WARMTXT"
STR=$T/stream.txt
: >"$STR"
for round in $(seq "$FIRST" "$ROUNDS"); do
	for who in $(bench_rotate "$round" direct sluiced); do
		port=${URL[$who]##*:}
		tls=
		[ "$who" = sluiced ] && tls=--tls
		out=$(timeout 120 taskset -c $CLIENT_CPU "$CLIENT" stream --port "$port" $tls \
			--body "$T/stream.json" --streams "$STREAMS" --tokens "$TOKENS" \
			--interval "$INTERVAL" 2>&1 | grep STREAM_RESULT) || out=
		if [ -z "$out" ]; then
			bench_log "round $round $who: proxy_client stream failed"
			FAILED=1
			continue
		fi
		eval "${out#STREAM_RESULT }"
		[ "$failed" = 0 ] || FAILED=1
		echo "$round $who $gap_p50 $gap_p99 $late_p50 $late_p99 $late_max $chunks $reads" >>"$STR"
	done
done
echo
echo "| chunks of a stream | gap p50 µs | gap p99 µs | lateness p50 µs | lateness p99 µs |" \
	"lateness max µs | reads per chunk | added lateness p50 µs | added lateness p99 µs | added gap p99 µs |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for who in direct sluiced; do
	per=$(awk -v n=$who '$1 >= 1 && $2 == n { c += $8; r += $9 } END { printf "%.2f", c ? r / c : 0 }' "$STR")
	if [ $who = direct ]; then
		add="| - | - | - |"
	else
		add="| $(bench_diff "$STR" $who direct 5 %.1f) | $(bench_diff "$STR" $who direct 6 %.1f) |"
		add="$add $(bench_diff "$STR" $who direct 4 %.1f) |"
	fi
	echo "| $who | $(bench_stat "$STR" $who 3 %.1f) | $(bench_stat "$STR" $who 4 %.1f) |" \
		"$(bench_stat "$STR" $who 5 %.1f) | $(bench_stat "$STR" $who 6 %.1f) | $(bench_stat "$STR" $who 7 %.1f) |" \
		"$per $add"
done

# --- 4. memory per idle TLS connection ----------------------------------------------

echo
echo "== 4. memory: $IDLE_N idle keep-alive TLS connections (handshake + one request each)," \
	"fresh instances, $MEM_ROUNDS rounds"
MEM=$T/mem.txt
: >"$MEM"
i=0
for round in $(seq 1 "$MEM_ROUNDS"); do
	for who in $(bench_rotate $((round - 1)) sluiced nginx); do
		port=${MEM_PORTS[$((i % ${#MEM_PORTS[@]}))]}
		i=$((i + 1))
		start_proxy "$who" "$port"
		pg=$PROXY_PID
		# Warm: handshakes, a request each, an upstream connection; then closed
		timeout 30 taskset -c $CLIENT_CPU "$CLIENT" idle --port "$port" --tls --body "$T/body.json" \
			--conns 32 --hold 0 >/dev/null || { bench_log "$who: warm-up failed"; FAILED=1; }
		sleep 0.5
		read -r pss0 rss0 < <(group_mem "$pg")
		t0=$(date +%s.%N)
		bench_spawn "$T/idle-$who-$round.log" timeout 300 taskset -c $CLIENT_CPU "$CLIENT" idle \
			--port "$port" --tls --body "$T/body.json" --conns "$IDLE_N" --hold 120
		idle_pg=$BENCH_PID
		for _ in $(seq 1200); do
			grep -q IDLE_READY "$T/idle-$who-$round.log" 2>/dev/null && break
			kill -0 "$idle_pg" 2>/dev/null || break
			sleep 0.1
		done
		out=$(grep IDLE_READY "$T/idle-$who-$round.log" || true)
		secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
		sleep 1
		read -r pss1 rss1 < <(group_mem "$pg")
		est=$(ss -Htn state established "( sport = :$port )" | wc -l)
		bench_stop "$idle_pg"
		bench_stop "$pg"
		if [ -z "$out" ] || [ "$out" != "IDLE_READY ok=$IDLE_N failed=0" ]; then
			bench_log "$who: idle connections: ${out:-none ready} ($(tail -2 "$T/idle-$who-$round.log"))"
			FAILED=1
			continue
		fi
		echo "$round $who $pss0 $pss1 $rss0 $rss1 $est $secs" >>"$MEM"
		printf '   round %d %-8s Pss %d -> %d KiB, %d established, opened in %ss\n' \
			"$round" "$who" "$pss0" "$pss1" "$est" "$secs" >&2
	done
done
echo
echo "| $IDLE_N idle TLS connections | Pss before KiB | Pss after KiB | Pss per connection KiB | Rss per connection KiB |"
echo "|---|---|---|---|---|"
for who in sluiced nginx; do
	echo "| $who | $(awk -v n=$who '$2 == n { print $3 }' "$MEM" | bench_summary) |" \
		"$(awk -v n=$who '$2 == n { print $4 }' "$MEM" | bench_summary) |" \
		"$(awk -v n=$who -v N="$IDLE_N" '$2 == n { print ($4 - $3) / N }' "$MEM" | bench_summary %.1f) |" \
		"$(awk -v n=$who -v N="$IDLE_N" '$2 == n { print ($6 - $5) / N }' "$MEM" | bench_summary %.1f) |"
done

# --- targets ------------------------------------------------------------------------

echo
echo "== targets (issue 3)"
sl_ratio=$(awk '$1 >= 1 && $2 == "sluiced" { v[$1] = $3 } $1 >= 1 && $2 == "nginx" { w[$1] = $3 }
	END { for (r in v) if (r in w && w[r] > 0) print v[r] / w[r] }' "$TPUT" | bench_median)
add50=$(bench_diff "$LAT" sluiced direct 3 | awk '{ print $1 }')
add99=$(bench_diff "$LAT" sluiced direct 4 | awk '{ print $1 }')
late99=$(bench_diff "$STR" sluiced direct 6 %.1f | awk '{ print $1 }')
perconn=$(awk -v N="$IDLE_N" '$2 == "sluiced" { print ($4 - $3) / N }' "$MEM" | bench_median)
printf '   sluiced/nginx req/s        %6.2f x    (>= 1.0)   %s\n' "${sl_ratio:-0}" "$(bench_met "${sl_ratio:-0}" '>=' 1.0)"
printf '   added latency p50          %6s us   (<= 50)    %s\n' "$add50" "$(bench_met "${add50:-1e9}" '<=' 50)"
printf '   added latency p99          %6s us   (<= 250)   %s\n' "$add99" "$(bench_met "${add99:-1e9}" '<=' 250)"
printf '   added chunk lateness p99   %6s us   (<= 100)   %s\n' "$late99" "$(bench_met "${late99:-1e9}" '<=' 100)"
printf '   per idle TLS connection    %6.1f KiB  (<= 32)    %s\n' "${perconn:-0}" "$(bench_met "${perconn:-1e9}" '<=' 32)"
printf '   (median peaks: nginx %.0f req/s, sluiced %.0f req/s; load average now %s)\n' "${NG_PEAK:-0}" \
	"$SL_PEAK" "$(cut -d' ' -f1-3 /proc/loadavg)"

if [ $FAILED != 0 ]; then
	bench_log "some steps failed (see above)"
	exit 1
fi
exit 0
