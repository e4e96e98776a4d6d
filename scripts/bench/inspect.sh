#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The clients' result lines (KEY=VALUE ...) are eval'ed into variables:
# shellcheck disable=SC2154
#
# inspect.sh [--quick]: what prompt inspection costs, in one run on 127.0.0.1
# against build/mockllm.
#
#  1. Scanner: build/bench/inspect_scan on one core: MB/s of the built-in
#     detectors alone, with 1,000 user patterns (the target's configuration),
#     and with those plus the curated injection set
#     (etc/patterns/injection.txt), on 1 KiB, 32 KiB and 1 MiB prompts of
#     ordinary text (tests/data/prompts/benign.txt) and of the same text with
#     accents; and inspect_request() on a 32 KiB chat body in process.
#  2. Throughput: wrk over TLS keep-alive, $CONNS connections, one thread,
#     POSTing the ~1 KB chat request of proxy_chat.lua: sluiced with
#     inspection off (no inspect section) and on (every detector, the
#     injection and secrets sets, block, mask and restore rules as the sample
#     config has them). Round 0 warms up; each round runs both, in an order
#     rotated every round; "on/off" is per round.
#  3. Latency of a 32 KiB prompt: proxy_client load at a fixed $RATE req/s
#     (open loop, latency from when each request was due) through the plain
#     listener of each sluiced (TLS would add the same to both), and direct
#     to the mock. Added p99 of inspection = on minus off, per round. The
#     prompt has an email, a phone and a card number every ~4 KiB, masked on
#     the way (parse, walk, scan, rules, mask, print again).
#
# CPUs as in proxy.sh: sluiced (1 worker) and the mock on CPU $PROXY_CPU, the
# clients on CPU $CLIENT_CPU. Knobs (environment): ROUNDS DUR WARM_DUR
# LAT_DUR RATE CONNS SCAN_SECS. --quick: 1 short round, no warm-up (a smoke
# test); exits non-zero if any step fails (a missed target is not a failure).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib.sh
. "$ROOT/scripts/bench/lib.sh"

bench_args inspect.sh "$@"

if [ $QUICK = 1 ]; then
	ROUNDS=${ROUNDS:-1} DUR=${DUR:-1} WARM_DUR=${WARM_DUR:-1} LAT_DUR=${LAT_DUR:-1}
	SCAN_SECS=${SCAN_SECS:-0.2}
	FIRST=1
	WARMTXT="no warm-up round"
else
	ROUNDS=${ROUNDS:-5} DUR=${DUR:-8} WARM_DUR=${WARM_DUR:-3} LAT_DUR=${LAT_DUR:-5}
	SCAN_SECS=${SCAN_SECS:-2}
	FIRST=0
	WARMTXT="after a warm-up round"
fi
CONNS=${CONNS:-32}
RATE=${RATE:-500}
PROXY_CPU=0
MOCK_CPU=0
CLIENT_CPU=1

bench_init inspect-bench
bench_need wrk openssl taskset setsid timeout ss awk jq curl
[ "$(nproc)" -ge 2 ] || bench_die "needs 2 CPUs"

bench_bins sluiced mockllm bench/inspect_scan bench/proxy_client
bench_chat_body
CORPUS=${CORPUS:-$ROOT/tests/data/prompts/benign.txt}
[ -s "$CORPUS" ] || bench_die "$CORPUS missing"

# The texts: the corpus's ASCII lines (inspect_scan makes the accented
# variant itself); the 32 KiB prompt: those lines over again, with PII every
# ~4 KiB
LC_ALL=C grep -v -e '^#' -e '[^ -~]' "$CORPUS" >"$T/corpus.txt" || true
[ -s "$T/corpus.txt" ] || bench_die "$CORPUS has no ASCII lines"
awk -v max=32768 '{ line[NR] = $0 }
	END {
		for (i = 1; length(s) < max; i = i % NR + 1) {
			s = s line[i] " "
			if (length(s) - last > 4000) {
				s = s "Write to ana.lopez@example.org or +1 415 555 0132, card 4111 1111 1111 1111. "
				last = length(s)
			}
		}
		print substr(s, 1, max)
	}' "$T/corpus.txt" >"$T/prompt32k.txt"
jq -Rs '{ model: "gpt-4o-mini", max_tokens: 16,
	messages: [ { role: "system", content: "You are a concise assistant." },
		    { role: "user", content: . } ] }' "$T/prompt32k.txt" >"$T/body32k.json"

bench_cert "$T"
bench_pick_ports 5
MOCK_PORT=${BENCH_PORTS[0]}
declare -A TLS_PORT=([off]=${BENCH_PORTS[1]} [on]=${BENCH_PORTS[2]})
declare -A PLAIN_PORT=([off]=${BENCH_PORTS[3]} [on]=${BENCH_PORTS[4]})

# sluiced_conf off|on: the config of one contender
sluiced_conf() {
	local inspect=

	[ "$1" = on ] && inspect=$(cat <<-EOF
	,
	  "inspect": {
	    "detectors": [ "all" ],
	    "pattern_sets": [
	      { "name": "injection", "file": "$ROOT/etc/patterns/injection.txt" },
	      { "name": "secrets", "file": "$ROOT/etc/patterns/secrets.txt", "caseless": false }
	    ],
	    "rules": [
	      { "name": "no-injection", "match": { "sets": [ "injection" ], "roles": [ "user", "tool" ] },
	        "action": "block", "message": "prompt injection" },
	      { "name": "no-secrets", "match": { "sets": [ "secrets" ] }, "action": "block",
	        "message": "credentials" },
	      { "name": "no-keys", "match": { "detectors": [ "aws_access_key", "aws_secret_key",
	        "github_token", "slack_token", "openai_key", "anthropic_key", "jwt",
	        "pem_private_key" ] }, "action": "block", "message": "credentials" },
	      { "name": "mask-pii", "match": { "detectors": [ "email", "phone", "card", "ssn", "iban" ] },
	        "action": "mask", "mask": { "style": "placeholder", "restore": true } }
	    ]
	  }
	EOF
	)
	cat <<-EOF
	{
	  "workers": 1,
	  "listeners": [
	    { "name": "tls", "address": "127.0.0.1:${TLS_PORT[$1]}",
	      "tls": { "certificates": [ { "cert": "$T/cert.pem", "key": "$T/key.pem" } ] } },
	    { "name": "plain", "address": "127.0.0.1:${PLAIN_PORT[$1]}" }
	  ],
	  "http": { "idle_timeout": "5m" },
	  "pools": { "mock": { "backends": [ { "url": "http://127.0.0.1:$MOCK_PORT" } ] } },
	  "routes": [ { "name": "all", "pool": "mock" } ]$inspect
	}
	EOF
}

echo "== $(date -u '+%F %T UTC'), $(uname -r), $(nproc) CPUs: $(lscpu | sed -n 's/^Model name: *//p')"
echo "== $(wrk -v 2>&1 | awk 'NR == 1 { print $1, $2 }'), $(openssl version | awk '{ print $1, $2 }')," \
	"Hyperscan API: vectorscan $(dpkg-query -W -f='${Version}' libvectorscan5 2>/dev/null || echo ?)," \
	"$(bench_sluiced_rev user/gw etc/patterns)"
echo "== CPUs: sluiced and mock on $PROXY_CPU, clients on $CLIENT_CPU; load average $(cut -d' ' -f1-3 /proc/loadavg)"

FAILED=0

# --- 1. scanner --------------------------------------------------------------------

echo
echo "== 1. scanner: inspect_scan -t $SCAN_SECS -c $(basename "$CORPUS") -s etc/patterns/injection.txt, one core"
taskset -c $PROXY_CPU "$T/inspect_scan" -t "$SCAN_SECS" -c "$T/corpus.txt" -s "$ROOT/etc/patterns/injection.txt" \
	>"$T/scan.txt" 2>"$T/scan.err" || { bench_log "inspect_scan failed: $(cat "$T/scan.err")"; FAILED=1; }
echo
echo "| configuration | text | 1 KiB MB/s | 32 KiB MB/s | 1 MiB MB/s |"
echo "|---|---|---|---|---|"
# "scan config=C text=X bytes=N runs=R mb_s=M hits=H" -> one row per (C, X)
awk '$1 == "scan" { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
		k = f["config"] " | " f["text"]; if (!(k in seen)) { seen[k] = 1; order[++n] = k }
		v[k, f["bytes"]] = f["mb_s"] }
	END { for (i = 1; i <= n; i++) printf "| %s | %s | %s | %s |\n", order[i],
		v[order[i], 1024], v[order[i], 32768], v[order[i], 1048576] }' "$T/scan.txt"
sed -n 's/^inspect body_bytes=\([0-9]*\) p50_us=\([0-9]*\) p99_us=\([0-9]*\)$/\ninspect_request() on a \1-byte chat body, in process: p50 \2 us, p99 \3 us/p' "$T/scan.txt"
# the target's configuration: the detectors and 1,000 user patterns; its slowest ASCII size
scan_min() {
	awk -v c="$1" '$1 == "scan" && $2 == "config=" c && /text=ascii/ {
		for (i = 2; i <= NF; i++) if ($i ~ /^mb_s=/) { split($i, kv, "="); print kv[2] } }' \
		"$T/scan.txt" | sort -g | head -1
}
SCAN_MIN=$(scan_min +user)
SCAN_INJ=$(scan_min +user+injection)

# --- setup of the proxies ------------------------------------------------------------

declare -A PG
bench_spawn "$T/mock.log" taskset -c $MOCK_CPU "$T/mockllm" --listen "127.0.0.1:$MOCK_PORT" --threads 1
PG[direct]=$BENCH_PID
bench_wait_http "http://127.0.0.1:$MOCK_PORT" "$T/body.json"
for who in off on; do
	sluiced_conf $who >"$T/sluice-$who.json"
	"$T/sluiced" --check "$T/sluice-$who.json" >/dev/null || bench_die "sluiced --check $who failed"
	bench_spawn "$T/sluiced-$who.log" taskset -c $PROXY_CPU "$T/sluiced" -c "$T/sluice-$who.json"
	PG[$who]=$BENCH_PID
	bench_wait_http "https://127.0.0.1:${TLS_PORT[$who]}" "$T/body.json"
done
# Inspection must be doing its work: the mock saw the prompt's PII masked
curl -s -o /dev/null -m 5 -H 'content-type: application/json' -H 'x-mock-echo: 1' \
	--data-binary @"$T/body32k.json" "http://127.0.0.1:${PLAIN_PORT[on]}/v1/chat/completions" || true
masked=$(curl -s -m 5 "http://127.0.0.1:$MOCK_PORT/stats" | jq -r '.last_request.body' | grep -o 'EMAIL_1' | head -1)
[ "$masked" = EMAIL_1 ] || bench_die "inspection is not on: the mock saw the 32 KiB prompt's email unmasked"

# --- 2. throughput ------------------------------------------------------------------

echo
echo "== 2. throughput: wrk -t1 -c$CONNS -d${DUR}s -s proxy_chat.lua over TLS, $ROUNDS rounds, $WARMTXT"
TPUT=$T/tput.txt
: >"$TPUT"
for round in $(seq "$FIRST" "$ROUNDS"); do
	d=$DUR
	[ "$round" = 0 ] && d=$WARM_DUR
	for who in $(bench_rotate "$round" off on); do
		bench_wrk_round "$TPUT" "$round" "$who" "${PG[$who]}" "$d" inspection \
			"https://127.0.0.1:${TLS_PORT[$who]}/v1/chat/completions" || FAILED=1
	done
done
echo
echo "| inspection | req/s | on/off | p50 µs | p99 µs | sluiced CPU µs/req |"
echo "|---|---|---|---|---|---|"
for who in off on; do
	echo "| $who | $(bench_stat "$TPUT" $who 3) | $(bench_ratio "$TPUT" $who off 3) |" \
		"$(bench_stat "$TPUT" $who 4) | $(bench_stat "$TPUT" $who 5) | $(bench_stat "$TPUT" $who 6 %.1f) |"
done

# --- 3. latency of a 32 KiB prompt ----------------------------------------------------

echo
echo "== 3. 32 KiB prompt ($(stat -c %s "$T/body32k.json") bytes of JSON) at $RATE req/s, proxy_client load," \
	"$CONNS connections, ${LAT_DUR}s after 0.5s warm-up, plain HTTP, $ROUNDS rounds, $WARMTXT"
LAT=$T/lat.txt
: >"$LAT"
declare -A LPORT=([direct]=$MOCK_PORT [off]=${PLAIN_PORT[off]} [on]=${PLAIN_PORT[on]})
for round in $(seq "$FIRST" "$ROUNDS"); do
	d=$LAT_DUR
	[ "$round" = 0 ] && d=1
	for who in $(bench_rotate "$round" direct off on); do
		out=$(timeout $((${d%.*} + 15)) taskset -c $CLIENT_CPU "$T/proxy_client" load --port "${LPORT[$who]}" \
			--body "$T/body32k.json" --rate "$RATE" --duration "$d" --warmup 0.5 --conns "$CONNS" \
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
		echo "$round $who $p50 $p99 $p999" >>"$LAT"
	done
done
echo
echo "| 32 KiB at $RATE req/s | p50 µs | p99 µs | p99.9 µs | added p50 µs (vs off) | added p99 µs (vs off) |"
echo "|---|---|---|---|---|---|"
for who in direct off on; do
	add="| - | - |"
	[ $who = on ] && add="| $(bench_diff "$LAT" on off 3) | $(bench_diff "$LAT" on off 4) |"
	echo "| $who | $(bench_stat "$LAT" $who 3) | $(bench_stat "$LAT" $who 4) | $(bench_stat "$LAT" $who 5) $add"
done

# --- targets --------------------------------------------------------------------------

echo
echo "== targets (issue 4)"
ratio=$(awk '$1 >= 1 && $2 == "on" { v[$1] = $3 } $1 >= 1 && $2 == "off" { w[$1] = $3 }
	END { for (r in v) if (r in w && w[r] > 0) print v[r] / w[r] }' "$TPUT" | bench_median)
add99=$(bench_diff "$LAT" on off 4 | awk '{ print $1 }')
printf '   slowest ASCII scan         %6s MB/s (>= 1000) %s\n' "${SCAN_MIN:-0}" "$(bench_met "${SCAN_MIN:-0}" '>=' 1000)"
printf '   ... with the injection set %6s MB/s (no target)\n' "${SCAN_INJ:-0}"
printf '   added p99, 32 KiB prompt   %6s us   (<= 1000) %s\n' "${add99:--}" "$(bench_met "${add99:-1e9}" '<=' 1000)"
printf '   req/s inspection on/off    %6.2f x    (>= 0.9)  %s\n' "${ratio:-0}" "$(bench_met "${ratio:-0}" '>=' 0.9)"

if [ $FAILED != 0 ]; then
	bench_log "some steps failed (see above)"
	exit 1
fi
exit 0
