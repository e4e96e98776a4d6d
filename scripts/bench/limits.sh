#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The clients' result lines (KEY=VALUE ...) are eval'ed into variables:
# shellcheck disable=SC2154
#
# limits.sh [--quick]: what origins, limits and token accounting cost, in one
# run.
#
#  1. Tokenizer: build/bench/bpe_count -t (user/lib/bpe.c) and js-tiktoken
#     (scripts/bench/tiktoken_count.mjs -t, the npm package the counts are
#     checked against) over the same texts, both on CPU $CLIENT_CPU, each
#     round alternating who goes first: MB/s per core for o200k_base and
#     cl100k_base, on tests/data/tokens/corpus.jsonl (built to reach every
#     branch: long runs of one character make js-tiktoken's merge quadratic)
#     and on the 547 ordinary prompts of tests/data/prompts/benign.txt.
#  2. Proxy: wrk over TLS keep-alive, $CONNS connections, one thread, POSTing
#     the ~1 KB chat request of proxy_chat.lua to two sluiced on 127.0.0.1
#     against build/mockllm: "off" with no keys and no limits, "on" with API
#     keys required (the key looked up by SHA-256 in a keys file), a tenant
#     with request, concurrency and token limits, per-address limits, the
#     prompt counted with o200k_base and its tokens reserved before
#     forwarding and settled from the mock's usage (limits high enough that
#     nothing is refused: the price of the accounting, not of 429s), and
#     "est", "on" with the prompt estimated (no tokenizer section): the
#     tokenizer's share. Round 0 warms up; the order rotates every round;
#     ratios to off per round.
#  3. Escalation: scripts/bench/esc_latency in a network-namespace lab, XDP
#     on the gateway's veth: a source sends UDP probes every 50 us while it
#     makes one request with a bad key; sluiced strikes it (strikes 1) and
#     writes a block verdict; the last probe that reached the gateway gives
#     the time from the request to the first packet XDP dropped. $TRIALS
#     trials, each from a fresh source address.
# Knobs (environment): ROUNDS DUR WARM_DUR CONNS TRIALS. --quick: 1 short
# round; exits non-zero if a step fails (a missed target is not a failure).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib.sh
. "$ROOT/scripts/bench/lib.sh"

bench_args limits.sh "$@"

if [ $QUICK = 1 ]; then
	ROUNDS=${ROUNDS:-1} DUR=${DUR:-3} WARM_DUR=${WARM_DUR:-1} TRIALS=${TRIALS:-3}
	FIRST=1
	WARMTXT="no warm-up round"
else
	ROUNDS=${ROUNDS:-5} DUR=${DUR:-10} WARM_DUR=${WARM_DUR:-3} TRIALS=${TRIALS:-20}
	FIRST=0
	WARMTXT="after a warm-up round"
fi
CONNS=${CONNS:-32}
PROXY_CPU=0
MOCK_CPU=0
CLIENT_CPU=1

bench_init limits-bench
bench_need wrk openssl taskset setsid timeout ss awk curl jq node
[ "$(nproc)" -ge 2 ] || bench_die "needs 2 CPUs"

BUILD=${SLUICE_BUILD:-$ROOT/build}
for f in sluiced sluicectl mockllm bench/bpe_count bench/esc_latency; do
	[ -x "$BUILD/$f" ] || bench_die "$BUILD/$f not built (make tests)"
done
for e in o200k_base cl100k_base; do
	[ -s "$BUILD/share/tiktoken/$e.tiktoken" ] || bench_die "no $e table (make tests)"
done
[ -d "$BUILD/npm-tiktoken/node_modules/js-tiktoken" ] || bench_die "js-tiktoken not installed (make tests)"
T=$BENCH_TMP
FAILED=0

echo "== $(date -u '+%F %T UTC'), $(uname -r), $(nproc) CPUs: $(lscpu | sed -n 's/^Model name: *//p')"
echo "== node $(node --version), js-tiktoken $(node -p "require('$BUILD/npm-tiktoken/node_modules/js-tiktoken/package.json').version"), $(wrk -v 2>&1 | awk 'NR == 1 { print $1, $2 }')," \
	"sluice $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo ?)$( [ -n "$(git -C "$ROOT" status --porcelain -- user 2>/dev/null)" ] && echo ", user/ modified")"

# --- 1. tokenizer ---
CORPUS=$ROOT/tests/data/tokens/corpus.jsonl
# prompts: the benign corpus, one JSON string a line
grep -v '^#' "$ROOT/tests/data/prompts/benign.txt" | jq -R . >"$T/prompts.jsonl"
[ -s "$T/prompts.jsonl" ] || bench_die "no prompts in tests/data/prompts/benign.txt"
echo
echo "== 1. tokenizer: MB/s on CPU $CLIENT_CPU, $ROUNDS rounds; corpus $(wc -l <"$CORPUS") texts" \
	"($(wc -c <"$CORPUS") bytes), prompts $(wc -l <"$T/prompts.jsonl") texts ($(wc -c <"$T/prompts.jsonl") bytes)"
TOK=$T/tok.txt
: >"$TOK"
for round in $(seq 1 "$ROUNDS"); do
	for set in corpus prompts; do
		f=$CORPUS
		[ $set = prompts ] && f=$T/prompts.jsonl
		for e in o200k_base cl100k_base; do
			for who in $(bench_rotate "$round" sluice js); do
				if [ $who = sluice ]; then
					out=$(taskset -c $CLIENT_CPU "$BUILD/bench/bpe_count" -t -e $e \
						-r "$BUILD/share/tiktoken/$e.tiktoken" "$f")
				else
					out=$(taskset -c $CLIENT_CPU node "$ROOT/scripts/bench/tiktoken_count.mjs" \
						"$BUILD/npm-tiktoken" $e "$f" -t)
				fi
				mbs=$(sed -n 's/^[^:]*: \([0-9.]*\) MB\/s.*/\1/p' <<<"$out")
				[ -n "$mbs" ] || { bench_log "$who $e $set: no figure: $out"; FAILED=1; continue; }
				echo "$round $who-$set-$e $mbs" >>"$TOK"
			done
		done
	done
done
echo
echo "| texts | encoding | sluice MB/s | js-tiktoken MB/s | sluice/js |"
echo "|---|---|---|---|---|"
for set in corpus prompts; do
	for e in o200k_base cl100k_base; do
		echo "| $set | $e | $(bench_stat "$TOK" sluice-$set-$e 3 %.2f) | $(bench_stat "$TOK" js-$set-$e 3 %.3f) |" \
			"$(bench_ratio "$TOK" sluice-$set-$e js-$set-$e 3 %.0f) |"
	done
done

# --- 2. proxy with keys and limits ---
cp "$BUILD/sluiced" "$BUILD/mockllm" "$T/"
bench_chat_body
bench_cert "$T"
echo '{ "keys": [] }' >"$T/keys.json"
KEY=$("$BUILD/sluicectl" -j key add tenant bench file "$T/keys.json" admin "unix:$T/none.sock" 2>/dev/null |
	jq -r .key)
[ -n "$KEY" ] && [ "$KEY" != null ] || bench_die "sluicectl key add failed"
bench_pick_ports 4
MOCK_PORT=${BENCH_PORTS[0]}
declare -A TLS_PORT=([off]=${BENCH_PORTS[1]} [on]=${BENCH_PORTS[2]} [est]=${BENCH_PORTS[3]})

# sluiced_conf off|on|est (est: on, with the prompt estimated, no tokenizer)
sluiced_conf() {
	local keys= extra= tok=

	[ "$1" = on ] && tok='"tokenizer": { "ranks": "'$BUILD/share/tiktoken'",
	                 "models": [ { "model": "gpt-4o*", "encoding": "o200k_base" } ] },'
	if [ "$1" != off ]; then
		keys=', "api_keys": "required"'
		extra='"keys": { "file": "'$T/keys.json'" },
	  "tenants": { "bench": { "limits": { "requests_per_second": 10000000, "concurrent": 100000,
	                                      "tokens_per_minute": 1000000000000 } } },
	  "limits": { "per_key": { "requests_per_minute": 100000000 },
	              "per_address": { "requests_per_second": 10000000, "tokens_per_day": 1000000000000000 } },
	  '$tok
	fi
	cat <<-EOF
	{
	  "workers": 1, $extra
	  "listeners": [
	    { "name": "tls", "address": "127.0.0.1:${TLS_PORT[$1]}"$keys,
	      "tls": { "certificates": [ { "cert": "$T/cert.pem", "key": "$T/key.pem" } ] } }
	  ],
	  "http": { "idle_timeout": "5m" },
	  "pools": { "mock": { "backends": [ { "url": "http://127.0.0.1:$MOCK_PORT" } ] } },
	  "routes": [ { "name": "all", "pool": "mock" } ]
	}
	EOF
}

declare -A PG
bench_spawn "$T/mock.log" taskset -c $MOCK_CPU "$T/mockllm" --listen "127.0.0.1:$MOCK_PORT" --threads 1
bench_wait_http "http://127.0.0.1:$MOCK_PORT" "$T/body.json"
for who in off on est; do
	sluiced_conf $who >"$T/sluice-$who.json"
	"$T/sluiced" --check "$T/sluice-$who.json" >/dev/null || bench_die "sluiced --check $who failed"
	bench_spawn "$T/sluiced-$who.log" taskset -c $PROXY_CPU "$T/sluiced" -c "$T/sluice-$who.json"
	PG[$who]=$BENCH_PID
done
bench_wait_http "https://127.0.0.1:${TLS_PORT[off]}" "$T/body.json"
for who in on est; do for _ in $(seq 50); do
	[ "$(curl -sk -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" -H 'content-type: application/json' \
		--data-binary @"$T/body.json" "https://127.0.0.1:${TLS_PORT[$who]}/v1/chat/completions")" = 200 ] && break
	sleep 0.1
done; done
code=$(curl -sk -o /dev/null -w '%{http_code}' -H 'content-type: application/json' --data-binary @"$T/body.json" \
	"https://127.0.0.1:${TLS_PORT[on]}/v1/chat/completions")
[ "$code" = 401 ] || bench_die "the keyed sluiced answers $code without a key, want 401"

echo
echo "== 2. proxy: wrk -t1 -c$CONNS -d${DUR}s -s proxy_chat.lua over TLS, $ROUNDS rounds, $WARMTXT"
TPUT=$T/tput.txt
: >"$TPUT"
export BENCH_KEY=$KEY	# proxy_chat.lua's key
for round in $(seq "$FIRST" "$ROUNDS"); do
	d=$DUR
	[ "$round" = 0 ] && d=$WARM_DUR
	for who in $(bench_rotate "$round" off on est); do
		bench_wrk_round "$TPUT" "$round" "$who" "${PG[$who]}" "$d" limits \
			"https://127.0.0.1:${TLS_PORT[$who]}/v1/chat/completions" || FAILED=1
	done
done
for who in off on est; do
	bench_stop "${PG[$who]}"
done
echo
echo "on: keys, limits and the prompt counted with o200k_base; est: the same, the prompt estimated"
echo
echo "| keys and limits | req/s | /off | p50 µs | p99 µs | sluiced CPU µs/req |"
echo "|---|---|---|---|---|---|"
for who in off est on; do
	echo "| $who | $(bench_stat "$TPUT" $who 3) | $(bench_ratio "$TPUT" $who off 3) |" \
		"$(bench_stat "$TPUT" $who 4) | $(bench_stat "$TPUT" $who 5) | $(bench_stat "$TPUT" $who 6 %.1f) |"
done

# --- 3. escalation latency ---
echo
echo "== 3. escalation: bad key -> XDP drop, $TRIALS trials"
# shellcheck source=../lab.sh
. "$ROOT/scripts/lab.sh"
LAB_QUIET=1
lab_init "lim$$" || bench_die "lab_init"
bench_on_exit lab_down
lab_up >/dev/null || bench_die "lab_up failed"
GD=$(lab_gwdev client)
export SLUICE_PIN_ROOT=/sys/fs/bpf/sluice-limits-bench-$$
bench_on_exit rm -rf "$SLUICE_PIN_ROOT"
cat >"$T/esc.json" <<EOC
{
  "workers": 1,
  "listeners": [ { "name": "plain", "address": "198.18.1.1:8080", "api_keys": "required" } ],
  "xdp": { "interfaces": [ { "name": "$GD", "mode": "auto" } ], "protected_ports": [ 8080 ] },
  "pools": { "mock": { "backends": [ { "url": "http://127.0.0.1:9" } ] } },
  "routes": [ { "name": "all", "pool": "mock" } ],
  "keys": { "file": "$T/keys.json" },
  "escalation": { "events": [ "auth_failed" ], "strikes": 1, "window": "1m",
                  "steps": [ { "action": "block", "ttl": "10m" } ] }
}
EOC
lab_bg_net gw env SLUICE_PIN_ROOT="$SLUICE_PIN_ROOT" "$T/sluiced" -c "$T/esc.json" >/dev/null
lab_wait_listen gw 8080 || bench_die "sluiced did not start in the lab: $(tail -3 "$LAB_STATE/bg.log")"
ESC=$T/esc.txt
: >"$ESC"
for i in $(seq 1 "$TRIALS"); do
	src=198.18.1.$((100 + i))
	lab_addr_add client "$src" || bench_die "lab_addr_add $src"
	ip netns exec "$(lab_ns gw)" timeout 10 "$BUILD/bench/esc_latency" sink 198.18.1.1 9999 >"$T/sink.$i" 2>&1 &
	sink=$!
	sleep 0.2
	ip netns exec "$(lab_ns client)" timeout 10 "$BUILD/bench/esc_latency" probe "$src" 198.18.1.1 8080 9999 \
		>"$T/probe.$i" 2>&1 || { bench_log "trial $i: probe failed: $(cat "$T/probe.$i")"; FAILED=1; continue; }
	wait "$sink" || true
	eval "$(grep '^PROBE ' "$T/probe.$i" | cut -d' ' -f2-)"
	eval "$(grep '^SINK ' "$T/sink.$i" | cut -d' ' -f2-)"
	if [ "${status:-}" != 401 ] || [ -z "${last_ns:-}" ]; then
		bench_log "trial $i: status ${status:-?}, sink $(cat "$T/sink.$i")"
		FAILED=1
		continue
	fi
	# from the request's first byte sent to the first probe that did not arrive
	echo "$i $(( (last_ns + gap_ns - sent_ns) / 1000 )) $(( (answer_ns - sent_ns) / 1000 )) $after" >>"$ESC"
	unset status last_ns
done
echo
echo "| trials | request -> first XDP drop, µs: p50 | p99 | max | request -> 401 answer, µs: p50 | probes after the drop that got through |"
echo "|---|---|---|---|---|---|"
if [ -s "$ESC" ]; then
	pct() { sort -n | awk -v p="$1" '{ v[NR] = $1 } END { i = int((NR - 1) * p + 0.5) + 1; print v[i] }'; }
	echo "| $(wc -l <"$ESC") | $(cut -d' ' -f2 "$ESC" | pct 0.5) | $(cut -d' ' -f2 "$ESC" | pct 0.99) |" \
		"$(cut -d' ' -f2 "$ESC" | pct 1) | $(cut -d' ' -f3 "$ESC" | pct 0.5) | $(awk '{ s += $4 } END { print s }' "$ESC") |"
fi
echo "XDP on $GD: $(ip -n "$(lab_ns gw)" -d link show dev "$GD" | grep -o 'xdp[a-z]*' | head -1) (xdp: native, xdpgeneric: skb)"

echo
echo "== targets (issue 5)"
for set in corpus prompts; do
	tr=$(bench_ratio "$TOK" sluice-$set-o200k_base js-$set-o200k_base 3 %.1f | awk '{ print $1 }')
	printf '   tokenizer sluice/js (%-7s o200k) %6s x    (>= 5)     %s\n' "$set," "${tr:-0}" "$(bench_met "${tr:-0}" '>=' 5)"
done
ratio=$(awk '$1 >= 1 && $2 == "on" { v[$1] = $3 } $1 >= 1 && $2 == "off" { w[$1] = $3 }
	END { for (r in v) if (r in w && w[r] > 0) print v[r] / w[r] }' "$TPUT" | bench_median)
printf '   req/s keys+limits on/off       %8.3f x    (>= 0.95)  %s\n' "${ratio:-0}" "$(bench_met "${ratio:-0}" '>=' 0.95)"
p99=$( [ -s "$ESC" ] && cut -d' ' -f2 "$ESC" | pct 0.99 || echo 999999)
printf '   escalation p99                 %8s us   (<= 5000)  %s\n' "$p99" "$(bench_met "$p99" '<=' 5000)"

if [ $FAILED != 0 ]; then
	bench_log "some steps failed (see above)"
	exit 1
fi
exit 0
