#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The clients' result lines (KEY=VALUE ...) are eval'ed into variables:
# shellcheck disable=SC2154
#
# metrics.sh [--quick]: what serving metrics costs the proxy, in one run on
# 127.0.0.1 against build/mockllm. Two sluiced instances, the same config
# but for the admin section:
#   off  no admin endpoint: nothing reads the counters
#   on   the admin endpoint on loopback with a bearer token, scraped every
#        second by a real Prometheus (Debian's prometheus, its own TSDB in a
#        temp dir), and /status fetched every second as the dashboard does
# The workers count into their own memory in both (there is no switch for
# that: it is a relaxed store to a line no other thread writes), so "on" vs
# "off" is the price of the scrapes and of the admin thread summing the
# workers' counters while they run.
# Throughput: wrk over TLS keep-alive, $CONNS connections, one thread,
# POSTing the ~1 KB chat request of proxy_chat.lua; round 0 warms up; each
# round runs both, in an order rotated every round; on/off per round.
# CPUs as in proxy.sh: sluiced (1 worker) and the mock on CPU $PROXY_CPU;
# wrk, Prometheus and the /status poller on CPU $CLIENT_CPU.
# Knobs (environment): ROUNDS DUR WARM_DUR CONNS. --quick: 1 short round, no
# warm-up; exits non-zero if any step fails (a missed target is not).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib.sh
. "$ROOT/scripts/bench/lib.sh"

bench_args metrics.sh "$@"

if [ $QUICK = 1 ]; then
	ROUNDS=${ROUNDS:-1} DUR=${DUR:-3} WARM_DUR=${WARM_DUR:-1}
	FIRST=1
	WARMTXT="no warm-up round"
else
	ROUNDS=${ROUNDS:-7} DUR=${DUR:-10} WARM_DUR=${WARM_DUR:-3}
	FIRST=0
	WARMTXT="after a warm-up round"
fi
CONNS=${CONNS:-32}
PROXY_CPU=0
MOCK_CPU=0
CLIENT_CPU=1

bench_init metrics-bench
bench_need wrk openssl taskset setsid timeout ss awk curl prometheus
[ "$(nproc)" -ge 2 ] || bench_die "needs 2 CPUs"

bench_bins sluiced mockllm
bench_chat_body

bench_cert "$T"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/admin.token"
chmod 600 "$T/admin.token"
bench_pick_ports 5
MOCK_PORT=${BENCH_PORTS[0]} ADMIN_PORT=${BENCH_PORTS[3]} PROM_PORT=${BENCH_PORTS[4]}
declare -A TLS_PORT=([off]=${BENCH_PORTS[1]} [on]=${BENCH_PORTS[2]})

# sluiced_conf off|on
sluiced_conf() {
	local admin=

	[ "$1" = on ] && admin="\"admin\": { \"address\": \"127.0.0.1:$ADMIN_PORT\", \"token_file\": \"$T/admin.token\" },"
	cat <<-EOF
	{
	  "workers": 1, $admin
	  "listeners": [
	    { "name": "tls", "address": "127.0.0.1:${TLS_PORT[$1]}",
	      "tls": { "certificates": [ { "cert": "$T/cert.pem", "key": "$T/key.pem" } ] } }
	  ],
	  "http": { "idle_timeout": "5m" },
	  "pools": { "mock": { "backends": [ { "url": "http://127.0.0.1:$MOCK_PORT" } ] } },
	  "routes": [ { "name": "all", "pool": "mock" } ]
	}
	EOF
}

echo "== $(date -u '+%F %T UTC'), $(uname -r), $(nproc) CPUs: $(lscpu | sed -n 's/^Model name: *//p')"
echo "== $(wrk -v 2>&1 | awk 'NR == 1 { print $1, $2 }'), Prometheus $(prometheus --version 2>&1 | awk 'NR == 1 { print $3 }')," \
	"$(bench_sluiced_rev)"
echo "== CPUs: sluiced and mock on $PROXY_CPU; wrk, Prometheus and the poller on $CLIENT_CPU"

declare -A PG
bench_spawn "$T/mock.log" taskset -c $MOCK_CPU "$T/mockllm" --listen "127.0.0.1:$MOCK_PORT" --threads 1
bench_wait_http "http://127.0.0.1:$MOCK_PORT" "$T/body.json"
for who in off on; do
	sluiced_conf $who >"$T/sluice-$who.json"
	"$T/sluiced" --check "$T/sluice-$who.json" >/dev/null || bench_die "sluiced --check $who failed"
	bench_spawn "$T/sluiced-$who.log" taskset -c $PROXY_CPU "$T/sluiced" -c "$T/sluice-$who.json"
	PG[$who]=$BENCH_PID
	bench_wait_http "https://127.0.0.1:${TLS_PORT[$who]}" "$T/body.json"
done

# Prometheus, every second
cat >"$T/prometheus.yml" <<EOF
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: sluiced
    authorization: { credentials_file: $T/admin.token }
    static_configs: [ { targets: [ "127.0.0.1:$ADMIN_PORT" ] } ]
EOF
bench_spawn "$T/prometheus.log" taskset -c $CLIENT_CPU prometheus --config.file="$T/prometheus.yml" \
	--storage.tsdb.path="$T/prom" --web.listen-address="127.0.0.1:$PROM_PORT"
# ... and the dashboard's /status, every second
bench_spawn "$T/poller.log" taskset -c $CLIENT_CPU bash -c "for i in \$(seq 100000); do
	curl -s -o /dev/null -H \"Authorization: Bearer \$(cat '$T/admin.token')\" http://127.0.0.1:$ADMIN_PORT/status
	sleep 1; done"
promq() {
	curl -s -G --data-urlencode "query=$1" "http://127.0.0.1:$PROM_PORT/api/v1/query" |
		jq -r '.data.result[0].value[1] // empty'
}
for _ in $(seq 100); do
	[ "$(promq 'up{job="sluiced"}')" = 1 ] && break
	sleep 0.2
done
[ "$(promq 'up{job="sluiced"}')" = 1 ] || bench_die "Prometheus does not scrape sluiced ($(tail -2 "$T/prometheus.log"))"

FAILED=0
echo
echo "== throughput: wrk -t1 -c$CONNS -d${DUR}s -s proxy_chat.lua over TLS, $ROUNDS rounds, $WARMTXT"
TPUT=$T/tput.txt
: >"$TPUT"
for round in $(seq "$FIRST" "$ROUNDS"); do
	d=$DUR
	[ "$round" = 0 ] && d=$WARM_DUR
	for who in $(bench_rotate "$round" off on); do
		bench_wrk_round "$TPUT" "$round" "$who" "${PG[$who]}" "$d" metrics \
			"https://127.0.0.1:${TLS_PORT[$who]}/v1/chat/completions" || FAILED=1
	done
done
# Prometheus saw the on instance's requests (the scrapes did happen)
seen=$(promq 'sum(sluice_requests_total)')
scrapes=$(promq 'count_over_time(up{job="sluiced"}[1h])')

echo
echo "| metrics | req/s | on/off | p50 µs | p99 µs | sluiced CPU µs/req |"
echo "|---|---|---|---|---|---|"
for who in off on; do
	echo "| $who | $(bench_stat "$TPUT" $who 3) | $(bench_ratio "$TPUT" $who off 3) |" \
		"$(bench_stat "$TPUT" $who 4) | $(bench_stat "$TPUT" $who 5) | $(bench_stat "$TPUT" $who 6 %.1f) |"
done
echo
echo "Prometheus: ${scrapes:-0} scrapes, sum(sluice_requests_total) ${seen:-0} at the end"

echo
echo "== targets (issue 6)"
ratio=$(awk '$1 >= 1 && $2 == "on" { v[$1] = $3 } $1 >= 1 && $2 == "off" { w[$1] = $3 }
	END { for (r in v) if (r in w && w[r] > 0) print v[r] / w[r] }' "$TPUT" | bench_median)
printf '   req/s scraped/not        %6.3f x    (>= 0.98)  %s\n' "${ratio:-0}" "$(bench_met "${ratio:-0}" '>=' 0.98)"

if [ $FAILED != 0 ]; then
	bench_log "some steps failed (see above)"
	exit 1
fi
exit 0
