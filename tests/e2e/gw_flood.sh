#!/usr/bin/env bash
# Connection floods from one source: a listener's max_connections_per_source
# keeps the source to that many open connections (the rest are closed at
# accept and counted, and a closed one frees its place), the XDP SYN rate
# drops a burst of connection attempts at the NIC, and a client elsewhere
# is served all along.
set -u
. "$(dirname "$0")/gw_lib.sh"

gw_start flood 90
lab_host_add attacker a 3 || { not_ok "lab: attacker"; exit 1; }
GA=$(lab_gwdev attacker)
gw_xdp_pins "$GA"
B1=$(gw_host backend1)
gw_mock backend1 9000 >/dev/null || { not_ok "mock backend1:9000"; exit 1; }
ADMIN=$GW_TMP/admin.sock
cat >"$GW_CFG" <<EOF
{
  "workers": 2,
  "listeners": [ { "name": "plain", "address": "$GW_V4:$GW_HTTP", "max_connections_per_source": 20 } ],
  "admin": { "address": "unix:$ADMIN" },
  "xdp": { "interfaces": [ { "name": "$GA", "mode": "auto" } ], "protected_ports": [ $GW_HTTP ],
           "default_limit": { "pps": 100000, "burst": 100000, "syn": 40 } },
  "pools": { "p": { "backends": [ { "url": "http://$B1:9000" } ] } },
  "routes": [ { "name": "all", "match": { "path": "/" }, "pool": "p" } ]
}
EOF
GW_ROOT_MOUNTS=1
metric() { gw_metric "$ADMIN" "$1"; }
CHAT='{"model":"m","messages":[{"role":"user","content":"hi"}]}'
chat() { cl -o /dev/null -w '%{http_code}' --max-time 5 --data-binary "$CHAT" "$HTTP_URL/v1/chat/completions"; }

# hold N [GAP]: the attacker opens N connections (GAP s apart) and holds
# them; after the handshakes (3 s at most) and a second prints "open closed failed" (closed: by the gateway)
# and holds the open ones until $GW_TMP/release appears (10 s at most)
cat >"$GW_TMP/hold.py" <<'EOF'
import os, select, socket, sys, time
n, gap, dst, release = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
pending = []
for _ in range(n):
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex((dst, 8080))
    pending.append(s)
    time.sleep(gap)
# 3 s for the handshakes: a SYN the NIC dropped is sent again after 1 s
socks, deadline = [], time.monotonic() + 3
while pending and time.monotonic() < deadline:
    _, w, _ = select.select([], pending, [], 0.1)
    for s in w:
        pending.remove(s)
        if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
            socks.append(s)
failed = n - len(socks)
time.sleep(1)
# a connection the gateway closed reads EOF (or a reset) at once
r, _, _ = select.select(socks, [], [], 0.2)
closed = []
for s in r:
    try:
        if s.recv(1) == b"":
            closed.append(s)
    except OSError:
        closed.append(s)
print(len(socks) - len(closed), len(closed), failed, flush=True)
t0 = time.monotonic()
while not os.path.exists(release) and time.monotonic() - t0 < 10:
    time.sleep(0.05)
EOF
hold() {
	rm -f "$GW_TMP/release"
	lab_exec attacker timeout 20 python3 "$GW_TMP/hold.py" "$1" "$2" "$GW_V4" "$GW_TMP/release" >"$GW_TMP/hold.out" 2>&1 &
	HOLD=$!
	GW_PIDS+=("$HOLD")
	wait_for 10 test -s "$GW_TMP/hold.out" >/dev/null
}
release() {
	touch "$GW_TMP/release"
	wait "$HOLD" 2>/dev/null
}

gw_sluiced "$GW_CFG" || exit 1
is "a client is served" "$(chat)" 200

# --- the L7 limit: 30 connections, 20 stay ---
r0=$(metric sluice_connections_refused_total)
hold 30 0.03
is "one source opening 30: 20 stay open, 10 are closed at accept" "$(cat "$GW_TMP/hold.out")" "20 10 0"
is "... and counted" "$(($(metric sluice_connections_refused_total) - r0))" 10
is "... while a client elsewhere is served" "$(chat)" 200
release
drained() { [ "$(metric sluice_connections_active)" -le 1 ]; }
wait_for 5 drained >/dev/null
hold 20 0.03
is "closed ones free their places: 20 again" "$(cat "$GW_TMP/hold.out")" "20 0 0"
release

# --- the XDP SYN rate: 200 attempts at once, 40 a second pass the NIC ---
sleep 1.1
s0=$(counter "$GA" syn)
hold 200 0
read -r open closed failed <"$GW_TMP/hold.out"
diag "of 200 connects at once: $open open, $closed closed by the gateway, $failed timed out"
between "a SYN burst: the NIC drops what passes the SYN rate" "$(($(counter "$GA" syn) - s0))" 100 2000
ok_if "... and of what got through, at most 20 stay open" test "$open" -le 20
is "... while a client elsewhere is served" "$(chat)" 200
release
is "after the flood the client is served" "$(chat)" 200
