#!/usr/bin/env bash
# Failover in sluiced, counted at the mocks: active health checks take a
# backend out and bring it back, a route falls back to its second pool
# when the first cannot serve, a killed backend's requests are retried on
# the other, a black-holed one (SYNs dropped) costs one connect timeout
# and is ejected, a stream the backend fails mid-way ends with an error
# event, a full pool sheds with 503 + Retry-After, and retries stay within
# the retry count and budget.
set -u
. "$(dirname "$0")/gw_lib.sh"

gw_start failover 90
B1=$(gw_host backend1)
B2=$(gw_host backend2)
# backend1: 9000 ha, 9001 retry (killed), 9002 shed (slow), 9003 primary, 9004 budget
# backend2: 9000 ha, 9001 retry, 9002 secondary (fallback), 9003 budget, 9004 black-hole
for p in 9000 9002 9003 9004; do
	gw_mock backend1 $p >/dev/null || { not_ok "mock backend1:$p"; exit 1; }
done
KILLME=$(gw_mock backend1 9001) || { not_ok "mock backend1:9001"; exit 1; }
for p in 9000 9001 9002 9003 9004; do
	gw_mock backend2 $p >/dev/null || { not_ok "mock backend2:$p"; exit 1; }
done
HEALTH='"health": { "interval": "500ms", "timeout": "400ms", "rise": 1, "fall": 2 }'
NOCHECKS='"health": { "enabled": false, "eject_after": 1000 }'
ADMIN_SOCK=$GW_TMP/admin.sock
cat >"$GW_CFG" <<EOF
{
  "workers": 2,
  "admin": { "address": "unix:$ADMIN_SOCK" },
  "audit": { "path": "$GW_TMP/audit.jsonl", "sync": "always" },
$(gw_listeners),
  "pools": {
    "ha": { "backends": [ { "url": "http://$B1:9000" }, { "url": "http://$B2:9000" } ], $HEALTH },
    "primary": { "backends": [ { "url": "http://$B1:9003" } ], $HEALTH },
    "secondary": { "backends": [ { "url": "http://$B2:9002" } ] },
    "dead": { "backends": [ { "url": "http://$B1:9999" } ], "retry_budget": 1, $NOCHECKS },
    "retry": { "backends": [ { "url": "http://$B1:9001" }, { "url": "http://$B2:9001" } ],
               "retries": 1, "retry_budget": 1,
               "health": { "enabled": false, "eject_after": 3, "eject_base": "10s" } },
    "shed": { "backends": [ { "url": "http://$B1:9002", "max_inflight": 1 } ],
              "queue": { "max": 1, "timeout": "1s" }, $NOCHECKS },
    "budget": { "backends": [ { "url": "http://$B1:9004" }, { "url": "http://$B2:9003" } ],
                "retries": 1, "retry_budget": 0.2, $NOCHECKS },
    "bh": { "backends": [ { "url": "http://$B1:9005" }, { "url": "http://$B2:9004" } ],
            "algorithm": "round_robin", "retries": 1, "retry_budget": 1,
            "health": { "enabled": false, "eject_after": 1, "eject_base": "30s" } }
  },
  "routes": [
    { "name": "fb", "match": { "headers": { "x-pool": "fb" } }, "pool": "primary", "fallback": [ "secondary" ] },
    { "name": "fbdead", "match": { "headers": { "x-pool": "fbdead" } }, "pool": "dead", "fallback": [ "secondary" ] },
    { "name": "nofb", "match": { "headers": { "x-pool": "nofb" } }, "pool": "dead" },
    { "name": "retry", "match": { "headers": { "x-pool": "retry" } }, "pool": "retry" },
    { "name": "shed", "match": { "headers": { "x-pool": "shed" } }, "pool": "shed" },
    { "name": "budget", "match": { "headers": { "x-pool": "budget" } }, "pool": "budget" },
    { "name": "bh", "match": { "headers": { "x-pool": "bh" } }, "pool": "bh" },
    { "name": "ha", "match": { "path": "/v1/" }, "pool": "ha" }
  ]
}
EOF
gw_sluiced "$GW_CFG" || exit 1

CHAT='{"model":"m","messages":[{"role":"user","content":"hi"}]}'
# n ROLE PORT: chat requests the mock has answered
n() { mstat "$1" "$2" '.requests.by_path["/v1/chat/completions"]'; }
# burst POOL COUNT [CURL ARGS]: COUNT sequential requests, each on its own
# connection (so both workers take some); prints the status codes, counted
burst() {
	local pool=$1 count=$2 i
	shift 2
	for i in $(seq "$count"); do
		cl -o /dev/null -w '%{http_code}\n' -H "x-pool: $pool" -H 'content-type: application/json' \
			-d "$CHAT" "$@" "$TLS_URL/v1/chat/completions"
	done | sort | uniq -c | awk '{printf "%s%sx%s", sep, $1, $2; sep=" "} END {print ""}'
}

# --- Active health checks: ejection and recovery; fallback when a pool is down ---
h1=$(n backend1 9000) h2=$(n backend2 9000)
is "health: with both up, 20 requests all succeed" "$(burst ha 20)" "20x200"
between "health: backend1 takes its share with both up" $(($(n backend1 9000) - h1)) 5 15
between "health: backend2 takes its share with both up" $(($(n backend2 9000) - h2)) 5 15
p0=$(n backend1 9003)
is "fallback: while the primary pool is up it serves the route" "$(burst fb 3) $(($(n backend1 9003) - p0))" "3x200 3"

is "health: the mocks' /health go down" "$(madmin backend1 9000 'health?state=down')$(madmin backend1 9003 'health?state=down')" "200200"
ms=$(wait_for 4 grep -q "backend=http://$B1:9000 health=down" "$GW_LOG")
between "health: backend1 is taken out within 3 intervals of 500 ms, fall 2 (ms)" "${ms:-9999}" 0 1600
h1=$(n backend1 9000) h2=$(n backend2 9000)
is "health: while backend1 is down, 20 requests all succeed" "$(burst ha 20)" "20x200"
is "health: ... and none of them went to backend1, all 20 to backend2" \
	"$(($(n backend1 9000) - h1)) $(($(n backend2 9000) - h2))" "0 20"

ms=$(wait_for 4 grep -q "backend=http://$B1:9003 health=down" "$GW_LOG")
between "fallback: the primary pool's only backend is down too (ms)" "${ms:-9999}" 0 1600
p0=$(n backend1 9003) s0=$(n backend2 9002)
is "fallback: with the primary pool down, requests still succeed" "$(burst fb 5)" "5x200"
is "fallback: ... served by the fallback pool, none by the primary" \
	"$(($(n backend1 9003) - p0)) $(($(n backend2 9002) - s0))" "0 5"

madmin backend1 9000 'health?state=up' >/dev/null
madmin backend1 9003 'health?state=up' >/dev/null
ms=$(wait_for 4 grep -q "backend=http://$B1:9000 health=up" "$GW_LOG")
between "health: backend1 comes back within 2 intervals, rise 1 (ms)" "${ms:-9999}" 0 1100
h1=$(n backend1 9000)
is "health: after recovery, 20 requests all succeed" "$(burst ha 20)" "20x200"
between "health: ... and backend1 takes its share again" $(($(n backend1 9000) - h1)) 5 15
wait_for 4 grep -q "backend=http://$B1:9003 health=up" "$GW_LOG" >/dev/null
p0=$(n backend1 9003)
is "fallback: once the primary is back it serves the route again" "$(burst fb 3) $(($(n backend1 9003) - p0))" "3x200 3"

# Fallback when the pool's only backend refuses connections (no checks there)
s0=$(n backend2 9002)
is "fallback: a pool whose backend refuses connections falls back, 5 requests succeed" "$(burst fbdead 5)" "5x200"
is "fallback: ... all 5 served by the fallback pool" "$(($(n backend2 9002) - s0))" "5"
err=$(cl -w '\n%{http_code}\n%header{retry-after}' -H 'x-pool: nofb' -d "$CHAT" "$TLS_URL/v1/chat/completions")
is "no fallback: a pool that cannot serve answers 503 with Retry-After, in the OpenAI shape" \
	"$(sed -n 2p <<<"$err") $(sed -n 3p <<<"$err") $(head -n 1 <<<"$err" | jq -c '[.error.type, .error.code, (.error | has("param"))]')" \
	'503 1 ["api_error","service_unavailable",true]'

# --- A killed backend: its requests are retried on the other ---
r1=$(n backend1 9001) r2=$(n backend2 9001)
is "retry: both backends serve before the kill" "$(burst retry 4) $(($(n backend1 9001) - r1)) $(($(n backend2 9001) - r2))" "4x200 2 2"
kill "$KILLME"
wait_for 2 eval '! ip netns exec "$(lab_ns backend1)" ss -Hltn "sport = :9001" | grep -q .' >/dev/null
r2=$(n backend2 9001)
is "retry: with backend1 killed, 20 requests all succeed" "$(burst retry 20)" "20x200"
is "retry: ... all 20 answered by backend2" "$(($(n backend2 9001) - r2))" "20"
ok_if "retry: the dead backend is ejected passively after 3 failures (log)" \
	grep -q "pool=retry backend=http://$B1:9001 ejected for=10000ms after=3 failures" "$GW_LOG"

# A stream that fails after its first bytes went out is not retried; it ends
# well: the events that came, an error event in the API's shape, the body's end.
# midstream NAME FAULT PATH BODY: curl's exit and status in $GW_TMP/NAME.rc, the body in NAME
midstream() {
	cl -o "$GW_TMP/$1" -w '%{http_code}' -H 'x-pool: retry' -H "x-mock-fault: $2" -H 'x-mock-tokens: 10' \
		-d "$4" "$TLS_URL$3" >"$GW_TMP/$1.code" 2>/dev/null
	echo "$? $(cat "$GW_TMP/$1.code")" >"$GW_TMP/$1.rc"
}
events() {	# FILE: the data of its events, one a line
	sed -n 's/^data: //p' "$1"
}
r1=$(mstat backend2 9001 .requests.total)
OSTREAM='{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}'
midstream reset-o reset-after=2 /v1/chat/completions "$OSTREAM"
is "mid-stream: a stream reset after 2 events ends as a whole 200 (curl exit, status), sent once" \
	"$(cat "$GW_TMP/reset-o.rc") $(($(mstat backend2 9001 .requests.total) - r1))" "0 200 1"
is "mid-stream: ... the 2 token events came first" \
	"$(events "$GW_TMP/reset-o" | head -n 3 | jq -r '.choices[0].delta.content // empty' 2>/dev/null | grep -c .)" 2
is "mid-stream: ... then one error event in OpenAI's shape, the last" \
	"$(events "$GW_TMP/reset-o" | tail -n 1 | jq -c '[.error.type, .error.code, (.error.message | test("upstream failed mid-answer"))]' 2>/dev/null)" \
	'["api_error","upstream_error",true]'
is "mid-stream: ... and no [DONE]: the answer did not end normally" "$(grep -c '^data: \[DONE\]' "$GW_TMP/reset-o")" 0
midstream close-a close-after=3 /v1/messages \
	'{"model":"claude-x","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"x"}]}'
is "mid-stream: an Anthropic stream the backend closes after 3 events ends as a whole 200" \
	"$(cat "$GW_TMP/close-a.rc")" "0 200"
is "mid-stream: ... with event: error and Anthropic's error object last" \
	"$(grep '^event: ' "$GW_TMP/close-a" | tail -n 1) $(events "$GW_TMP/close-a" | tail -n 1 | jq -c '[.type, .error.type]' 2>/dev/null)" \
	'event: error ["error","api_error"]'
ok_if "mid-stream: the audit trail has both as errors with status 200" \
	sh -c "test \$(jq -s '[.[] | select(.status == 200 and .decision == \"error\")] | length' '$GW_TMP/audit.jsonl') -ge 2"

# --- A black-holed backend: its SYNs dropped, the connect times out (3 s) ---
ip netns exec "$(lab_ns backend1)" nft -f - <<'NFT' || not_ok "black-hole: nft in backend1"
table inet sluicebh {
	chain in { type filter hook input priority 0; tcp dport 9005 drop; }
}
NFT
bh0=$(n backend2 9004)
t0=$(date +%s%N)
is "black-hole: the first requests (one a worker may meet it) all get 200" "$(burst bh 4)" "4x200"
t1=$(date +%s%N)
is "black-hole: once it is ejected, 10 more get 200" "$(burst bh 10)" "10x200"
t2=$(date +%s%N)
is "black-hole: all 14 were answered by backend2" "$(($(n backend2 9004) - bh0))" 14
between "black-hole: the first 4 waited out one connect timeout, the ejection shared by the workers (ms)" \
	$(((t1 - t0) / 1000000)) 2900 5000
between "black-hole: the 10 after it met none (ms)" $(((t2 - t1) / 1000000)) 0 2900
ok_if "black-hole: the backend is ejected after its failure (log)" \
	grep -q "pool=bh backend=http://$B1:9005 ejected" "$GW_LOG"

# --- Shedding: one slot, a queue of one for 1 s ---
# shedburst NAME DELAY: 6 concurrent requests to a backend answering after
# DELAY; each leaves "CODE SECONDS" in $GW_TMP/NAME/I.code, head, body
shedburst() {
	local d=$GW_TMP/$1 i pids=()
	mkdir -p "$d"
	for i in 1 2 3 4 5 6; do
		spawn cl -o "$d/$i.body" -D "$d/$i.head" -w '%{http_code} %{time_total}\n' -H 'x-pool: shed' \
			-H "x-mock-fault: delay=$2" -d "$CHAT" "$TLS_URL/v1/chat/completions" >"$d/$i.code"
		pids+=("$BG_PID")
	done
	wait "${pids[@]}"
	diag "shedding $1 (delay $2): $(cat "$d"/*.code | tr '\n' ' ')"
}
count() { cat "$GW_TMP/$1"/*.code | grep -c "^$2 "; }
# A 600 ms backend: the request in flight and the one queued (it gets the
# slot at 600 ms, within its 1 s) succeed. Per worker a queue of
# max(1, max/workers): a second queued request, on the other worker, waits
# past its deadline. Either way exactly two succeed.
# metric NAME{LABELS}: its value in one scrape of the admin socket, 0 when absent
metric() {
	curl -sS --max-time 5 --unix-socket "$ADMIN_SOCK" http://sluiced/metrics |
		awk -v k="$1" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }'
}
s0=$(mstat backend1 9002 .requests.total)
( sleep 0.35; metric 'sluice_pool_queue_depth{pool="shed"}' >"$GW_TMP/qdepth" ) &
qpid=$!
shedburst shed1 600ms
wait $qpid
is "shed: of 6 concurrent requests, the one in flight and the one queued get 200, 4 get 503" \
	"$(count shed1 200) $(count shed1 503)" "2 4"
is "shed: the backend saw only the requests that got 200" $(($(mstat backend1 9002 .requests.total) - s0)) "$(count shed1 200)"
between "shed: the queue depth during the burst (one a worker at most)" "$(cat "$GW_TMP/qdepth")" 1 2
is "shed: counted by pool, and the queue is empty again" \
	"$(metric 'sluice_pool_shed_total{pool="shed"}') $(metric 'sluice_pool_queue_depth{pool="shed"}')" "4 0"
is "shed: the queued request waited for the slot (a 200 after >= 1.1 s)" \
	"$(cat "$GW_TMP"/shed1/*.code | awk '$1 == 200 && $2 >= 1.1' | wc -l)" 1
bad=0
for i in 1 2 3 4 5 6; do
	grep -q '^503 ' "$GW_TMP/shed1/$i.code" || continue
	grep -qi '^retry-after: [0-9]' "$GW_TMP/shed1/$i.head" &&
		jq -e '.error.type == "api_error" and (.error.code | IN("overloaded", "service_unavailable")) and (.error.message | length > 0)' \
			"$GW_TMP/shed1/$i.body" >/dev/null || bad=$((bad + 1))
done
is "shed: each 503 has Retry-After and an OpenAI-shaped error body" "$bad" 0
is "shed: no 503 waited longer than the queue's 1 s (plus slack)" \
	"$(cat "$GW_TMP"/shed1/*.code | awk '$1 == 503 && $2 > 1.4' | wc -l)" 0
shedburst shed2 600ms
is "shed: a second burst is served the same (the queue's places were given back)" \
	"$(count shed2 200) $(count shed2 503)" "2 4"
# A 1.5 s backend: the queued requests give up at their 1 s deadline
shedburst shed3 1500ms
is "shed: with a 1.5 s backend only the request in flight gets 200" "$(count shed3 200) $(count shed3 503)" "1 5"
between "shed: queued requests get their 503 at the queue deadline, 1 s (how many)" \
	"$(cat "$GW_TMP"/shed3/*.code | awk '$1 == 503 && $2 >= 0.95 && $2 < 1.45' | wc -l)" 1 2
is "shed: ... with code overloaded" \
	"$(for i in 1 2 3 4 5 6; do awk '$1 == 503 && $2 >= 0.95 {f = 1} END {exit !f}' "$GW_TMP/shed3/$i.code" &&
		jq -r .error.code "$GW_TMP/shed3/$i.body"; done | sort -u)" overloaded

# --- Retries within count and budget: both backends answer 503 ---
tot() { echo $(($(mstat backend1 9004 .requests.total) + $(mstat backend2 9003 .requests.total))); }
t0=$(tot)
code=$(cl -o /dev/null -w '%{http_code}' -H 'x-pool: budget' -H 'x-mock-fault: status=503' -d "$CHAT" "$TLS_URL/v1/chat/completions")
is "budget: a request both backends refuse with 503 gets 503 after retries+1 = 2 attempts" \
	"$code $(($(tot) - t0))" "503 2"
# The budget bounds retries when many fail at once: 20 concurrent requests
# whose attempts all take 300 ms and end in 503. Each worker may retry on
# its credit (1 + 0.2 a request) and with at most 3 retries in flight.
t0=$(tot)
pids=()
for i in $(seq 20); do
	cl -o /dev/null -w '%{http_code}\n' -H 'x-pool: budget' -H 'x-mock-fault: delay=300ms,status=503' \
		-d "$CHAT" "$TLS_URL/v1/chat/completions" >"$GW_TMP/budget.$i" &
	pids+=($!)
done
wait "${pids[@]}"
codes=$(cat "$GW_TMP"/budget.* | sort | uniq -c | awk '{print $1 "x" $2}')
is "budget: 20 concurrent requests all get 503" "$codes" "20x503"
# Per worker (2): 1 + 0.2 x 20 of credit and 3 in flight; without a budget: 40
attempts=$(($(tot) - t0))
diag "budget: 20 concurrent requests made $attempts attempts (no budget: 40; bound 36)"
between "budget: retries stay within retry_budget 0.2 and 3 in flight (attempts for 20 requests)" \
	"$attempts" 21 36
