#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# xdp.sh [--quick]: what sluice's XDP program costs, and what it saves.
#
#  1. build/bench/xdp_cost: ns per packet of each verdict path under
#     BPF_PROG_TEST_RUN, blocklists of 1 to 1M prefixes, 1M tracked sources.
#  2. Flood: HTTP keep-alive requests from namespace "client" to a server in
#     "gw" (wrk -> bench_httpd) while "attacker" sends a UDP flood spoofed
#     from 198.19.0.0/16 (trafgen, drnd() low 16 bits) to gw, in phases:
#       base    no flood, no filter
#       sluice  flood, sluice XDP (native) on both gw veths, block 198.19.0.0/16
#       nft     flood, nftables netdev ingress drop (interval set) on both gw veths
#       minxdp  flood, a 6-line XDP program dropping 198.19/16 (the floor of
#               any XDP filter on a veth, to separate sluice's cost from veth's)
#     Each round runs base, then the flood phases in an order rotated every
#     round; round 0 warms up and is not counted. Reported: requests/s and its
#     ratio to the same round's base, the flood's offered and dropped pps, and
#     softirq share of the gw CPU and of all CPUs from /proc/stat.
#  3. Capacity: the same phases (none instead of base) with an unlimited flood
#     and no wrk: pps that CPU $GW_CPU generates and drops, i.e. ns per flood
#     packet, trafgen's send included. PROFILE=1: a perf profile of each.
#
# CPUs: gw's server and trafgen share CPU $GW_CPU (trafgen pins itself to
# CPU 0, and a veth runs the receiver's softirq on the sender's CPU, so the
# flood's drops land there, where the server is: the gateway under attack);
# wrk has CPU $CLIENT_CPU to itself. The flood rate is fixed (trafgen -b), so
# each filter faces the same offered load and differs only in what dropping
# costs.
#
# Namespaces sluice-bench-$$-{gw,client,attacker}, veths inside them only,
# addresses in 198.18.0.0/15, pinned maps under /sys/fs/bpf/sluice-bench-$$:
# all removed on exit. Knobs (environment): ROUNDS DUR CAP_DUR FLOOD_PPS CONNS
# RAMP FLOODS; COST=0 skips step 1; PROFILE=1 adds a perf profile per filter.
# --quick: one short round, small lists; exits non-zero if any step fails.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/bench/lib.sh
. "$ROOT/scripts/bench/lib.sh"

bench_args xdp.sh "$@"

if [ $QUICK = 1 ]; then
	ROUNDS=${ROUNDS:-1} DUR=${DUR:-1} CAP_DUR=${CAP_DUR:-0.5} FLOOD_PPS=${FLOOD_PPS:-100000}
	RAMP=${RAMP:-0.3} WARMUP=0
else
	ROUNDS=${ROUNDS:-5} DUR=${DUR:-6} CAP_DUR=${CAP_DUR:-2} FLOOD_PPS=${FLOOD_PPS:-200000}
	RAMP=${RAMP:-1} WARMUP=1
fi
CONNS=${CONNS:-32}
COST=${COST:-1}
GW_CPU=0	# not a knob: trafgen pins its process to CPU 0 itself
CLIENT_CPU=1
PORT=8080
FLOOD_NET=198.19.0.0/16

bench_init xdp-bench
bench_need ip nft trafgen wrk taskset nsenter setsid clang awk
[ "$(nproc)" -ge 2 ] || bench_die "needs 2 CPUs"

if [ -n "${SLUICE_BUILD:-}" ]; then
	BUILD=$SLUICE_BUILD
else
	BUILD=$ROOT/build
	make -s -C "$ROOT" build/sluicectl build/bench/xdp_cost build/bench/bench_httpd >&2
fi
CTL=$BUILD/sluicectl
for f in "$CTL" "$BUILD/bench/xdp_cost" "$BUILD/bench/bench_httpd"; do
	[ -x "$f" ] || bench_die "$f not built (make build/bench/$(basename "$f"))"
done

export SLUICE_PIN_ROOT=/sys/fs/bpf/sluice-bench-$$
bench_on_exit "rm -rf $SLUICE_PIN_ROOT"

# --- 1. program cost -------------------------------------------------------

echo "== $(date -u '+%F %T UTC'), $(uname -r), $(nproc) CPUs: $(lscpu | sed -n 's/^Model name: *//p')"
if [ "$COST" = 1 ]; then
	cost_args=()
	[ $QUICK = 1 ] && cost_args=(-q)
	echo "== taskset -c $CLIENT_CPU $BUILD/bench/xdp_cost ${cost_args[*]}"
	taskset -c "$CLIENT_CPU" timeout 600 "$BUILD/bench/xdp_cost" "${cost_args[@]}" ||
		bench_die "xdp_cost failed"
	echo
fi

# --- 2. flood --------------------------------------------------------------

GW=sluice-bench-$$-gw
CL=sluice-bench-$$-client
AT=sluice-bench-$$-attacker
for ns in "$GW" "$CL" "$AT"; do
	bench_netns_add "$ns"
done
ip -n "$CL" link add c0 type veth peer name gwc netns "$GW"
ip -n "$AT" link add a0 type veth peer name gwa netns "$GW"
ip -n "$CL" addr add 198.18.1.2/24 dev c0
ip -n "$GW" addr add 198.18.1.1/24 dev gwc
ip -n "$AT" addr add 198.18.2.2/24 dev a0
ip -n "$GW" addr add 198.18.2.1/24 dev gwa
ip -n "$CL" link set c0 up
ip -n "$GW" link set gwc up
ip -n "$AT" link set a0 up
ip -n "$GW" link set gwa up
# On every exit path, before the namespaces go (an XDP program may outlive nothing)
bench_on_exit "nsenter --net=/run/netns/$GW $CTL iface detach gwa; nsenter --net=/run/netns/$GW $CTL iface detach gwc"

ctl() {
	nsenter --net="/run/netns/$GW" "$CTL" "$@"
}

mac() {
	ip -n "$1" link show "$2" | awk '/link\/ether/ { print $2 }'
}

# The flood: 60-byte UDP frames, source 198.19.x.y with x.y random per packet.
cat >"$BENCH_TMP/flood.cfg" <<EOF
{
  eth(da=$(mac "$GW" gwa), sa=$(mac "$AT" a0), type=0x0800),
  0x45, 0x00, const16(46), drnd(2), 0x40, 0x00, 64, 17, csumip(14, 33),
  198, 19, drnd(2),
  198, 18, 2, 1,
  const16(40000), const16(9), const16(26), const16(0),
  fill(0x00, 18)
}
EOF

# The floor of XDP filtering on a veth: drop IPv4 from 198.19/16, nothing else.
cat >"$BENCH_TMP/minxdp.c" <<'EOF'
struct xdp_md { unsigned int data, data_end; };
__attribute__((section("xdp"), used)) int minxdp(struct xdp_md *ctx)
{
	unsigned char *p = (unsigned char *)(long)ctx->data;
	if (p + 34 > (unsigned char *)(long)ctx->data_end || p[12] != 0x08 || p[13] != 0)
		return 2;
	return p[26] == 198 && p[27] == 19 ? 1 : 2;
}
char _license[] __attribute__((section("license"), used)) = "GPL";
EOF
clang -O2 -target bpf -c "$BENCH_TMP/minxdp.c" -o "$BENCH_TMP/minxdp.o"

cat >"$BENCH_TMP/nft.conf" <<EOF
table netdev sluice_bench {
	counter flood { }
	set bl { type ipv4_addr; flags interval; elements = { $FLOOD_NET } }
	chain gwa { type filter hook ingress device "gwa" priority -500; ip saddr @bl counter name flood drop; }
	chain gwc { type filter hook ingress device "gwc" priority -500; ip saddr @bl counter name flood drop; }
}
EOF

ctl block add "$FLOOD_NET" reason "xdp.sh flood" >/dev/null

bench_spawn "$BENCH_TMP/httpd.log" ip netns exec "$GW" \
	timeout 1800 taskset -c "$GW_CPU" "$BUILD/bench/bench_httpd" 198.18.1.1 $PORT
HTTPD=$BENCH_PID
for _ in $(seq 50); do
	ip netns exec "$CL" bash -c "exec 3<>/dev/tcp/198.18.1.1/$PORT" 2>/dev/null && break
	sleep 0.1
done
kill -0 "$HTTPD" 2>/dev/null || bench_die "bench_httpd did not start: $(cat "$BENCH_TMP/httpd.log")"

filter_on() {
	case $1 in
	sluice)
		ctl iface attach gwa mode native >/dev/null 2>&1
		ctl iface attach gwc mode native >/dev/null 2>&1
		ip -n "$GW" link show gwa | grep -q 'prog/xdp' || bench_die "sluice did not attach to gwa"
		;;
	nft) ip netns exec "$GW" nft -f "$BENCH_TMP/nft.conf" ;;
	minxdp)
		ip -n "$GW" link set dev gwa xdpdrv obj "$BENCH_TMP/minxdp.o" sec xdp
		ip -n "$GW" link set dev gwc xdpdrv obj "$BENCH_TMP/minxdp.o" sec xdp
		;;
	esac
}

filter_off() {
	case $1 in
	sluice) ctl iface detach gwa >/dev/null && ctl iface detach gwc >/dev/null ;;
	nft) ip netns exec "$GW" nft delete table netdev sluice_bench ;;
	minxdp) ip -n "$GW" link set dev gwa xdpdrv off && ip -n "$GW" link set dev gwc xdpdrv off ;;
	esac
}

# Packets the filter of phase $1 has dropped so far; "-" when it cannot say.
dropped() {
	case $1 in
	sluice) ctl -j stats gwa | grep -o '"reason":"block","verdict":"drop","packets":[0-9]*' | grep -o '[0-9]*$' ;;
	nft) ip netns exec "$GW" nft list counter netdev sluice_bench flood | awk '/packets/ { print $2 }' ;;
	*) echo - ;;
	esac
}

tx_packets() {
	ip netns exec "$AT" cat /sys/class/net/a0/statistics/tx_packets
}

now() {
	date +%s.%N
}

# run_phase KIND ROUND PHASE: one measurement, one line in $RESULTS:
# "kind round phase req/s offered-pps dropped-pps softirq%-gw softirq%-all busy%-gw".
# KIND legit: wrk for DUR s under a FLOOD_PPS flood (none in phase base).
# KIND cap: no wrk; trafgen unlimited (TX_RING) for CAP_DUR s: how many pps
# CPU $GW_CPU can generate and drop with this filter, i.e. 1/(send + drop cost).
RESULTS=$BENCH_TMP/results
run_phase() {
	local kind=$1 round=$2 phase=$3 tg='' rate=() d0 d1 tx0 tx1 ta0 ta1 t0 t1 s0 s1 rps=- el

	[ "$kind" = legit ] && rate=(-b "${FLOOD_PPS}pps")
	filter_on "$phase"
	d0=$(dropped "$phase") ta0=$(tx_packets)
	if [ "$phase" != base ]; then
		bench_spawn "$BENCH_TMP/trafgen.log" ip netns exec "$AT" \
			timeout -s INT $((DUR + 30)) trafgen --dev a0 --conf "$BENCH_TMP/flood.cfg" \
			--cpus 1 "${rate[@]}" --no-sock-mem -C
		tg=$BENCH_PID
		sleep "$RAMP"
		kill -0 "$tg" 2>/dev/null || bench_die "trafgen died: $(cat "$BENCH_TMP/trafgen.log")"
	fi
	tx0=$(tx_packets) s0=$(bench_cpu_snap) t0=$(now)
	if [ "$kind" = legit ]; then
		timeout $((DUR + 20)) ip netns exec "$CL" taskset -c "$CLIENT_CPU" \
			wrk -t1 -c"$CONNS" -d"${DUR}s" "http://198.18.1.1:$PORT/" >"$BENCH_TMP/wrk.out" 2>&1 ||
			bench_die "wrk failed: $(cat "$BENCH_TMP/wrk.out")"
	else
		sleep "$CAP_DUR"
	fi
	t1=$(now) s1=$(bench_cpu_snap) tx1=$(tx_packets)
	[ -n "$tg" ] && bench_stop "$tg"
	# Drops are counted over trafgen's whole run, then scaled to the window
	d1=$(dropped "$phase") ta1=$(tx_packets)
	filter_off "$phase"

	if [ "$kind" = legit ]; then
		rps=$(awk '/^Requests\/sec:/ { print $2 }' "$BENCH_TMP/wrk.out")
		[ -n "$rps" ] || bench_die "no result from wrk: $(cat "$BENCH_TMP/wrk.out")"
		if grep -q -E 'Socket errors|Non-2xx' "$BENCH_TMP/wrk.out"; then
			bench_log "round $round $phase: $(grep -E 'Socket errors|Non-2xx' "$BENCH_TMP/wrk.out")"
		fi
	fi
	el=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
	awk -v k="$kind" -v r="$round" -v p="$phase" -v rps="$rps" -v el="$el" -v tx=$((tx1 - tx0)) \
		-v ta=$((ta1 - ta0)) -v d0="$d0" -v d1="$d1" \
		-v sg="$(bench_cpu_pct "$s0" "$s1" "cpu$GW_CPU" softirq)" \
		-v sa="$(bench_cpu_pct "$s0" "$s1" cpu softirq)" \
		-v bg="$(bench_cpu_pct "$s0" "$s1" "cpu$GW_CPU" busy)" 'BEGIN {
			printf "%s %s %s %s %.0f %s %s %s %s\n", k, r, p, rps, tx / el,
				(d0 == "-" || !ta ? "-" : sprintf("%.0f", tx / el * (d1 - d0) / ta)), sg, sa, bg
		}' >>"$RESULTS"
	bench_log "$(tail -1 "$RESULTS")"
}

# run_rounds KIND PHASE...: round 0 (unless --quick) warms up; the first
# phase opens every round, the others follow in an order rotated each round.
run_rounds() {
	local kind=$1 first=$2 r i n

	shift 2
	n=$#
	for ((r = 1 - WARMUP; r <= ROUNDS; r++)); do
		run_phase "$kind" "$r" "$first"
		for ((i = 0; i < n; i++)); do
			run_phase "$kind" "$r" "${@:$(((i + r + n) % n + 1)):1}"
		done
	done
}

read -r -a FLOODS <<<"${FLOODS:-sluice nft minxdp}"
: >"$RESULTS"
echo "== load average before the flood test: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== flood: UDP from $FLOOD_NET by trafgen on CPU $GW_CPU (it pins itself there), shared with bench_httpd"
echo "== legit: wrk -t1 -c$CONNS -d${DUR}s on CPU $CLIENT_CPU -> bench_httpd on CPU $GW_CPU"
echo "== rounds: $ROUNDS (+$WARMUP warm-up); each: base, then ${FLOODS[*]} rotated"
run_rounds legit base "${FLOODS[@]}"
run_rounds cap none "${FLOODS[@]}"
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== sluice's own counters after all phases: $(ctl -j stats gwa | grep -o '"new_sources_denied".*' | tr -d '{}"')"

# PROFILE=1: where CPU $GW_CPU goes under an unlimited flood, per filter (perf, if installed)
if [ "${PROFILE:-0}" = 1 ] && command -v perf >/dev/null; then
	for p in none "${FLOODS[@]}"; do
		filter_on "$p"
		bench_spawn "$BENCH_TMP/trafgen.log" ip netns exec "$AT" timeout -s INT 30 \
			trafgen --dev a0 --conf "$BENCH_TMP/flood.cfg" --cpus 1 --no-sock-mem -C
		sleep "$RAMP"
		perf record -q -C "$GW_CPU" -o "$BENCH_TMP/perf.data" -- sleep 3 >/dev/null 2>&1
		bench_stop "$BENCH_PID"
		filter_off "$p"
		echo
		echo "== perf record -C $GW_CPU, 3 s of unlimited flood, filter $p: top symbols"
		perf report -q -i "$BENCH_TMP/perf.data" --sort sym --stdio >"$BENCH_TMP/perf.txt" 2>/dev/null
		head -25 "$BENCH_TMP/perf.txt"
	done
fi

# --- tables ---------------------------------------------------------------

col() { # col KIND PHASE FIELD: that field of the counted rounds
	awk -v k="$1" -v p="$2" -v f="$3" '$1 == k && $2 >= 1 && $3 == p && $f != "-" { print $f }' "$RESULTS"
}

ratio() { # ratio KIND FIELD A B: per-round A/B of FIELD
	awk -v k="$1" -v f="$2" -v a="$3" -v b="$4" '$1 == k && $2 >= 1 { v[$2 " " $3] = $f; r[$2] = 1 }
		END { for (i in r) if (v[i " " b] > 0) print v[i " " a] / v[i " " b] }' "$RESULTS"
}

row() {
	printf '%-8s  %-24s  %-20s  %-26s  %-26s  %-18s  %-18s  %-18s\n' "$@"
}

echo
echo "Legitimate req/s under a $FLOOD_PPS pps spoofed flood; median (min-max) of $ROUNDS rounds"
echo
row phase "req/s" "ratio to base" "offered pps" "dropped pps" "softirq% cpu$GW_CPU" "softirq% all" "busy% cpu$GW_CPU"
for p in base "${FLOODS[@]}"; do
	row "$p" "$(col legit "$p" 4 | bench_summary)" "$(ratio legit 4 "$p" base | bench_summary %.3f)" \
		"$(col legit "$p" 5 | bench_summary)" "$(col legit "$p" 6 | bench_summary)" \
		"$(col legit "$p" 7 | bench_summary %.1f)" "$(col legit "$p" 8 | bench_summary %.1f)" \
		"$(col legit "$p" 9 | bench_summary %.1f)"
done
echo
for p in "${FLOODS[@]}"; do
	[ "$p" = sluice ] || echo "sluice / $p req/s: $(ratio legit 4 sluice "$p" | bench_summary %.3f)"
done

echo
echo "Flood capacity of CPU $GW_CPU: pps one unlimited trafgen sends and the filter drops,"
echo "no legitimate load; ns/pkt = 1e9 / pps = trafgen's send + the drop; median (min-max) of $ROUNDS rounds"
echo
row phase "offered pps" "ns/pkt" "dropped pps" "ratio to nft" "softirq% cpu$GW_CPU" "busy% cpu$GW_CPU" ""
for p in none "${FLOODS[@]}"; do
	row "$p" "$(col cap "$p" 5 | bench_summary)" \
		"$(col cap "$p" 5 | awk '$1 > 0 { print 1e9 / $1 }' | bench_summary)" \
		"$(col cap "$p" 6 | bench_summary)" "$(ratio cap 5 "$p" nft | bench_summary %.3f)" \
		"$(col cap "$p" 7 | bench_summary %.1f)" "$(col cap "$p" 9 | bench_summary %.1f)" ""
done

echo
sl=$(ratio legit 4 sluice base | bench_median) nf=$(ratio legit 4 nft base | bench_median)
awk -v s="$sl" -v n="$nf" 'BEGIN {
	printf "target: sluice >= 0.90 of base: %s (%.3f)\n", (s >= 0.90 ? "met" : "MISSED"), s
	printf "target: sluice better than nft: %s (%.3f vs %.3f)\n", (s > n ? "met" : "MISSED"), s, n
}'

# --quick is a smoke test: every phase must have measured something real
if [ $QUICK = 1 ]; then
	awk '$1 == "legit" && $4 <= 0 { bad = 1 } $3 != "base" && $5 <= 0 { bad = 1 }
		($3 == "sluice" || $3 == "nft") && $6 <= 0 { bad = 1 } END { exit bad }' "$RESULTS" ||
		bench_die "a phase measured nothing: $(cat "$RESULTS")"
	echo "xdp.sh --quick: ok"
fi
