#!/usr/bin/env bash
# The sluice lab: hosts in network namespaces, each joined to a gateway by
# its own veth pair. Sourced, it defines lab_* functions for demo.sh and
# tests/e2e; run, it is a small CLI:
#
#   scripts/lab.sh up|down|status [PREFIX]     (PREFIX: default "sluicelab")
#
#   PREFIX-client    gw0 198.18.1.2/24  2001:db8:1::2/64 ─ PREFIX-gc 198.18.1.1  2001:db8:1::1 ┐
#   PREFIX-attacker  gw0 198.18.2.2/24  2001:db8:2::2/64 ─ PREFIX-ga 198.18.2.1  2001:db8:2::1 ├ PREFIX-gw
#   PREFIX-backend1  gw0 198.18.11.2/24 2001:db8:11::2/64 ─ PREFIX-gb1 (lab_host_add, later)  ┘
#
# Every host routes 198.18.0.0/15 and 2001:db8::/32 to the gateway, so it
# reaches all of the gateway's addresses; the gateway does not forward.
# Only 198.18.0.0/15 and 2001:db8::/32 are used, and nothing is created in
# the root namespace: links are made inside the namespaces. IPv6 DAD is off
# and neighbours are static, so no ARP/ND runs: a blocked source keeps its
# neighbour entries and counters see only the traffic a test sends.
#
# The gateway-side names are PREFIX-gTAG and must fit IFNAMSIZ (15), so a
# PREFIX is at most 11 characters. Processes started with lab_bg are
# ended by pid in lab_down (all that runs in the lab's namespaces), which is
# idempotent.

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_REPO=$(cd "$LAB_DIR/.." && pwd)

# sluicectl: $SLUICECTL, else $SLUICE_BUILD/sluicectl, else the repo's build/
lab_sluicectl_path() {
	if [ -n "${SLUICECTL:-}" ]; then
		echo "$SLUICECTL"
	elif [ -n "${SLUICE_BUILD:-}" ]; then
		case $SLUICE_BUILD in
		/*) echo "$SLUICE_BUILD/sluicectl" ;;
		*) echo "$PWD/$SLUICE_BUILD/sluicectl" ;;
		esac
	else
		echo "$LAB_REPO/build/sluicectl"
	fi
}

lab_log() { [ -n "${LAB_QUIET:-}" ] || printf 'lab: %s\n' "$*" >&2; }
lab_die() { printf 'lab: %s\n' "$*" >&2; return 1; }

# lab_init PREFIX: names everything after PREFIX. Call before anything else.
lab_init() {
	local p=${1:?lab_init: PREFIX}

	if [ ${#p} -gt 11 ] || ! [[ $p =~ ^[A-Za-z0-9][A-Za-z0-9_]*$ ]]; then
		lab_die "prefix '$p': 1-11 letters, digits or '_' (interface names are PREFIX-gTAG)"
		return 1
	fi
	LAB_PREFIX=$p
	LAB_STATE=${TMPDIR:-/tmp}/sluice-lab-$p
	LAB_GW=$p-gw
	SLUICECTL=$(lab_sluicectl_path)
	export LAB_PREFIX LAB_STATE LAB_GW SLUICECTL
}

lab_ns() { echo "$LAB_PREFIX-$1"; }

# Runs a command in a host's namespace (ROLE: gw, client, attacker, ...).
lab_exec() {
	local ns
	ns=$(lab_ns "$1")
	shift
	ip netns exec "$ns" "$@"
}

# sluicectl with the network namespace of ROLE but the root mount namespace
# (ip netns exec remounts /sys, which hides bpffs).
lab_ctl() {
	local ns
	ns=$(lab_ns "$1")
	shift
	nsenter --net=/run/netns/"$ns" "$SLUICECTL" "$@"
}

# A fresh namespace with lo up and IPv6 DAD and router solicitations off,
# set before any link exists so every address (link-local too) is usable at once.
lab_ns_add() {
	local ns
	ns=$(lab_ns "$1")
	[ -e /run/netns/"$ns" ] && return 0
	ip netns add "$ns" || return 1
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.router_solicitations=0 \
		net.ipv6.conf.default.accept_ra=0 >/dev/null
}

# lab_host_add ROLE TAG NET: a host in PREFIX-ROLE on 198.18.NET.0/24 and
# 2001:db8:NET::/64, joined to the gateway by PREFIX-gTAG <-> gw0. The
# host is .2 / ::2, the gateway .1 / ::1.
lab_host_add() {
	local role=$1 tag=$2 net=$3 gw host gdev
	gw=$(lab_ns gw)
	host=$(lab_ns "$role")
	gdev=$LAB_PREFIX-g$tag
	[ ${#gdev} -le 15 ] || { lab_die "interface name '$gdev' longer than 15"; return 1; }
	lab_ns_add gw && lab_ns_add "$role" || return 1
	if ! ip -n "$gw" link show "$gdev" >/dev/null 2>&1; then
		ip -n "$gw" link add "$gdev" type veth peer name gw0 netns "$host" || return 1
	fi
	ip -n "$gw" addr replace 198.18.$net.1/24 dev "$gdev"
	ip -n "$gw" addr replace 2001:db8:$net::1/64 dev "$gdev" nodad
	ip -n "$gw" link set "$gdev" up
	ip -n "$host" addr replace 198.18.$net.2/24 dev gw0
	ip -n "$host" addr replace 2001:db8:$net::2/64 dev gw0 nodad
	ip -n "$host" link set gw0 up
	ip -n "$host" route replace 198.18.0.0/15 via 198.18.$net.1 dev gw0
	ip -n "$host" -6 route replace 2001:db8::/32 via 2001:db8:$net::1 dev gw0
	# Static neighbours: a blocked or limited source must not lose its
	# ARP/ND on the way, and no resolution traffic blurs the counters
	lab_neigh "$host" gw0 "$(lab_mac "$gw" "$gdev")" 198.18.$net.1 2001:db8:$net::1
	lab_neigh "$gw" "$gdev" "$(lab_mac "$host" gw0)" 198.18.$net.2 2001:db8:$net::2
	grep -qx "$role $tag $net" "$LAB_STATE/hosts" || echo "$role $tag $net" >>"$LAB_STATE/hosts"
}

lab_mac() { ip -n "$1" -br link show dev "$2" | awk '{print $3}'; }

# lab_neigh NS DEV MAC ADDR...: permanent neighbour entries.
lab_neigh() {
	local ns=$1 dev=$2 mac=$3 a
	shift 3
	for a in "$@"; do
		ip -n "$ns" neigh replace "$a" lladdr "$mac" dev "$dev" nud permanent || return 1
	done
}

# The gateway-side interface of ROLE, e.g. PREFIX-gc for the client.
lab_gwdev() {
	local r t n
	while read -r r t n; do
		[ "$r" = "$1" ] && { echo "$LAB_PREFIX-g$t"; return 0; }
	done <"$LAB_STATE/hosts"
	return 1
}

# Subnet number of ROLE (1 for the client: 198.18.1.0/24).
lab_net() {
	local r t n
	while read -r r t n; do
		[ "$r" = "$1" ] && { echo "$n"; return 0; }
	done <"$LAB_STATE/hosts"
	return 1
}

# lab_addr_add ROLE ADDR: one more source address on a host (v4 in its /24,
# v6 in its /64), usable at once.
lab_addr_add() {
	local host
	host=$(lab_ns "$1")
	case $2 in
	*:*) ip -n "$host" addr add "$2/64" dev gw0 nodad ;;
	*) ip -n "$host" addr add "$2/24" dev gw0 ;;
	esac || return 1
	lab_neigh "$(lab_ns gw)" "$(lab_gwdev "$1")" "$(lab_mac "$host" gw0)" "$2"
}

# lab_up: the gateway, the client and the attacker.
lab_up() {
	mkdir -p "$LAB_STATE" || return 1
	: >>"$LAB_STATE/hosts"
	lab_host_add client c 1 && lab_host_add attacker a 2 || return 1
	lab_log "up: $(lab_ns gw) ($LAB_PREFIX-gc, $LAB_PREFIX-ga), $(lab_ns client), $(lab_ns attacker)"
}

# lab_bg ROLE CMD...: starts CMD in ROLE's namespace in the background and
# prints its pid. lab_down ends it with everything else in the namespace.
lab_bg() {
	local ns
	ns=$(lab_ns "$1")
	shift
	ip netns exec "$ns" "$@" </dev/null >>"$LAB_STATE/bg.log" 2>&1 &
	echo $!
	disown $!	# lab_down kills it: no "Killed" from the shell then
}

# lab_bg_net ROLE CMD...: as lab_bg, but entering only the network namespace,
# so CMD sees the root's bpffs (the pinned maps), as sluiced must.
lab_bg_net() {
	local ns
	ns=$(lab_ns "$1")
	shift
	nsenter --net=/run/netns/"$ns" "$@" </dev/null >>"$LAB_STATE/bg.log" 2>&1 &
	echo $!
	disown $!
}

# Waits until something in ROLE's namespace listens on TCP PORT (max ~5 s).
lab_wait_listen() {
	local ns
	ns=$(lab_ns "$1")
	for _ in $(seq 50); do
		ip netns exec "$ns" ss -Hltn "sport = :$2" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	lab_die "nothing listens on port $2 in $ns"
}

# lab_http_server ROLE PORT: python's http.server on [::]:PORT (v4 and v6)
# serving a one-line index.html; waits until it listens, prints its pid.
lab_http_server() {
	local role=$1 port=$2 dir pid
	dir=$LAB_STATE/www-$role-$port
	mkdir -p "$dir" && echo "hello from $(lab_ns "$role") port $port" >"$dir/index.html"
	pid=$(lab_bg "$role" python3 -m http.server "$port" --bind :: --directory "$dir")
	lab_wait_listen "$role" "$port" || return 1
	echo "$pid"
}

# lab_tcp_sink ROLE PORT [SECONDS]: a listener with a deep backlog that
# never accepts (the kernel completes handshakes), for connection-rate
# tests. Ends by itself after SECONDS (default 120).
lab_tcp_sink() {
	local role=$1 port=$2 secs=${3:-120} pid
	pid=$(lab_bg "$role" python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", int(sys.argv[1])))
s.listen(4096)
time.sleep(float(sys.argv[2]))
' "$port" "$secs")
	lab_wait_listen "$role" "$port" || return 1
	echo "$pid"
}

# lab_udp_flood ROLE SRC DST PORT PPS SECONDS: sends UDP from SRC at PPS,
# paced in 1 ms steps, for SECONDS (hard stop at SECONDS + 5). Prints
# "SENT FIRST LAST MAXGAP": packets sent, the CLOCK_MONOTONIC times of the
# first and last (comparable across processes) and the longest pause
# between two sends (a stalled sender shows here). LAB_WRAP prefixes the
# sender, e.g. LAB_WRAP="taskset -c 1".
lab_udp_flood() {
	local role=$1
	shift
	# shellcheck disable=SC2086
	timeout 60 ip netns exec "$(lab_ns "$role")" ${LAB_WRAP:-} python3 -c '
import errno, socket, sys, time
src, dst, port, pps, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((src, 0))
total = int(pps * secs)
payload = b"sluice-lab-flood" * 4
sent = 0
first = last = None
gap = 0.0
t0 = time.monotonic()
stop = t0 + secs + 5
while sent < total:
    now = time.monotonic()
    if now > stop:
        break
    due = min(total, int((now - t0) * pps) + 1)
    while sent < due:
        try:
            s.sendto(payload, (dst, port))
        except OSError as e:
            if e.errno not in (errno.ENOBUFS, errno.EAGAIN):
                raise
            break
        now = time.monotonic()
        if first is None:
            first = now
        else:
            gap = max(gap, now - last)
        last = now
        sent += 1
    time.sleep(0.001)
print(sent, first or 0, last or 0, round(gap, 6))
' "$@"
}

# lab_syn_burst ROLE SRC DST PORT N WAIT: opens N TCP connections from SRC
# at once, waits WAIT seconds (below the 1 s SYN retransmit timeout, so
# every attempt sent exactly one SYN) and prints how many were established.
lab_syn_burst() {
	local role=$1
	shift
	timeout 30 ip netns exec "$(lab_ns "$role")" python3 -c '
import select, socket, sys, time
src, dst, port, n, wait = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
socks = []
for _ in range(n):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.setblocking(False)
    s.connect_ex((dst, port))
    socks.append(s)
deadline = time.monotonic() + wait
up, failed = set(), set()
while time.monotonic() < deadline and len(up) + len(failed) < n:
    pending = [s for s in socks if s not in up and s not in failed]
    _, w, _ = select.select([], pending, [], max(0.0, deadline - time.monotonic()))
    for s in w:
        (up if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0 else failed).add(s)
print(len(up))
' "$@"
}

# lab_sluice_attach DEV [MODE]: attaches sluice to a gateway interface,
# remembering it for lab_sluice_detach_all. Prints the attach mode
# (libxdp, libxdp-single or libbpf); sluicectl's own output goes to stderr.
lab_sluice_attach() {
	local dev=$1 out
	out=$(lab_ctl gw -j iface attach "$dev" ${2:+mode "$2"}) || return 1
	lab_sluice_attached "$dev"
	jq -r .attach <<<"$out"
}

# Records that sluice is attached to DEV with the current SLUICE_PIN_ROOT.
lab_sluice_attached() {
	echo "$1 ${SLUICE_PIN_ROOT:--}" >>"$LAB_STATE/attached"
}

# Detaches sluice from every interface recorded, each with the pin root it
# was attached with, so a lab never opens maps that are not its own.
lab_sluice_detach_all() {
	local dev root
	[ -f "$LAB_STATE/attached" ] || return 0
	while read -r dev root; do
		[ -e /run/netns/"$(lab_ns gw)" ] || break
		if [ "$root" = - ]; then
			env -u SLUICE_PIN_ROOT nsenter --net=/run/netns/"$(lab_ns gw)" "$SLUICECTL" iface detach "$dev"
		else
			SLUICE_PIN_ROOT=$root lab_ctl gw iface detach "$dev"
		fi
	done <"$LAB_STATE/attached" >/dev/null 2>&1
	rm -f "$LAB_STATE/attached"
}

# Ends the processes in the lab's namespaces (by pid: every one of them was
# started there by the lab), then deletes the namespaces. Idempotent;
# touches nothing outside PREFIX-*.
lab_down() {
	local ns pids
	[ -n "${LAB_PREFIX:-}" ] || return 0
	for ns in $(lab_namespaces); do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		# shellcheck disable=SC2086
		[ -n "$pids" ] && kill $pids 2>/dev/null
	done
	sleep 0.1
	for ns in $(lab_namespaces); do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		# shellcheck disable=SC2086
		[ -n "$pids" ] && kill -9 $pids 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$LAB_STATE"
	return 0
}

# The lab's namespaces that exist now.
lab_namespaces() {
	local ns
	for ns in /run/netns/"$LAB_PREFIX"-*; do
		[ -e "$ns" ] && basename "$ns"
	done
}

lab_status() {
	local ns
	if [ -z "$(lab_namespaces)" ]; then
		echo "lab $LAB_PREFIX: down"
		return 1
	fi
	for ns in $(lab_namespaces); do
		echo "== $ns"
		ip -n "$ns" -br addr show | grep -v '^lo '
		ip -n "$ns" link show | grep -o 'prog/xdp[a-z]* id [0-9]*' | sed 's/^/   xdp: /'
	done
	return 0
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	cmd=${1:-}
	lab_init "${2:-sluicelab}" || exit 2
	case $cmd in
	up) lab_up || { lab_down; exit 1; } ;;
	down) lab_sluice_detach_all; lab_down ;;
	status) lab_status ;;
	*)
		echo "usage: scripts/lab.sh up|down|status [PREFIX]" >&2
		exit 2
		;;
	esac
fi
