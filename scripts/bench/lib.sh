# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# shellcheck shell=bash
# Shared by the scripts in scripts/bench: namespaces and processes that are
# removed whatever happens, /proc/stat deltas, medians. Source it, then call
# bench_init NAME once; it installs the trap that undoes everything the
# bench_* functions created, and only that.

BENCH_NETNS=()		# namespaces we created
BENCH_PGIDS=()		# process groups we started (setsid), by leader pid
BENCH_CLEANUPS=()	# extra commands, run first, in reverse order
BENCH_TMP=

bench_die() {
	echo "$BENCH_NAME: $*" >&2
	exit 1
}

bench_log() {
	echo "$BENCH_NAME: $*" >&2
}

bench_cleanup() {
	local i pg

	set +e
	for ((i = ${#BENCH_CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${BENCH_CLEANUPS[i]}" >/dev/null 2>&1
	done
	for pg in "${BENCH_PGIDS[@]}"; do
		bench_stop "$pg"
	done
	for i in "${BENCH_NETNS[@]}"; do
		ip netns del "$i" 2>/dev/null
	done
	[ -n "$BENCH_TMP" ] && rm -rf "$BENCH_TMP"
}

# bench_init NAME: the trap, a private temp dir in $BENCH_TMP.
bench_init() {
	BENCH_NAME=$1
	[ "$(id -u)" = 0 ] || bench_die "must run as root (namespaces, XDP)"
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM HUP
	BENCH_TMP=$(mktemp -d "/tmp/$BENCH_NAME.XXXXXX")
}

bench_need() {
	local c

	for c in "$@"; do
		command -v "$c" >/dev/null || bench_die "'$c' not found (scripts/deps.sh bench installs it)"
	done
}

# bench_on_exit CMD...: run CMD in the trap, before namespaces go.
bench_on_exit() {
	BENCH_CLEANUPS+=("$*")
}

bench_netns_add() {
	ip netns add "$1" || bench_die "cannot create namespace $1"
	BENCH_NETNS+=("$1")
	ip -n "$1" link set lo up
}

# bench_spawn LOG CMD...: CMD in its own process group, in the background;
# sets BENCH_PID. Tools that fork workers (trafgen) die with their group.
bench_spawn() {
	local log=$1

	shift
	setsid "$@" >"$log" 2>&1 &
	BENCH_PID=$!
	BENCH_PGIDS+=("$BENCH_PID")
}

# bench_stop PID: SIGINT to its group, SIGKILL after 2 s.
bench_stop() {
	local pg=$1 i

	kill -INT -- "-$pg" 2>/dev/null || return 0
	for i in $(seq 20); do
		kill -0 -- "-$pg" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$pg" 2>/dev/null || true
	wait "$pg" 2>/dev/null || true
}

# bench_cpu_snap: "cpu total softirq idle" for the whole machine and each CPU.
bench_cpu_snap() {
	awk '/^cpu/ { t = 0; for (i = 2; i <= 9; i++) t += $i; print $1, t, $8, $5 + $6 }' /proc/stat
}

# bench_cpu_pct BEFORE AFTER CPU softirq|busy: share of CPU ("cpu" = all) between two snaps.
bench_cpu_pct() {
	awk -v cpu="$3" -v what="$4" 'FNR == NR { if ($1 == cpu) { t = $2; s = $3; i = $4 }; next }
		$1 == cpu {
			dt = $2 - t
			v = what == "busy" ? dt - ($4 - i) : $3 - s
			printf "%.1f\n", (dt > 0 ? 100 * v / dt : 0)
		}' <(echo "$1") <(echo "$2")
}

# bench_summary [FMT]: numbers on stdin -> "median (min-max)" with FMT (%.0f).
bench_summary() {
	sort -g | awk -v f="${1:-%.0f}" '{ v[NR] = $1 }
		END {
			if (!NR) { print "-"; exit }
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf f " (" f "-" f ")\n", m, v[1], v[NR]
		}'
}

# bench_median: numbers on stdin -> median.
bench_median() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

# bench_args NAME ARGS...: the one argument every bench script takes; sets
# QUICK to 1 for --quick (a seconds-long smoke run), else 0.
bench_args() {
	local name=$1
	shift
	QUICK=0
	case "${1:-}" in
	--quick) QUICK=1 ;;
	"") ;;
	*) echo "usage: $name [--quick]" >&2; exit 2 ;;
	esac
}

# bench_pick_ports N: N free TCP ports on 127.0.0.1 into BENCH_PORTS, from a
# range the ephemeral one does not use.
BENCH_PORTS=()
bench_pick_ports() {
	local p=$((10000 + ($$ * 7) % 20000)) used

	used=$(ss -Htan | awk '{ n = split($4, a, ":"); print a[n] }' | sort -u)
	while [ ${#BENCH_PORTS[@]} -lt "$1" ]; do
		p=$((p + 1))
		[ $p -lt 32000 ] || p=10000
		grep -qx "$p" <<<"$used" || BENCH_PORTS+=("$p")
	done
}

# bench_wait_http URL BODY: until URL/v1/chat/completions answers a POST of
# the file BODY (5 s at most).
bench_wait_http() {
	local i

	for i in $(seq 50); do
		curl -sk -o /dev/null -m 1 -H 'content-type: application/json' \
			--data-binary @"$2" "$1/v1/chat/completions" && return 0
		sleep 0.1
	done
	bench_die "$1 does not answer"
}

# bench_cert DIR: a self-signed P-256 certificate for localhost, DIR/cert.pem
# and DIR/key.pem.
bench_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-keyout "$1/key.pem" -out "$1/cert.pem" -subj /CN=localhost \
		-addext subjectAltName=DNS:localhost 2>/dev/null || bench_die "openssl req failed"
}

# bench_group_ticks PGID: CPU time (user + system, clock ticks) of a process
# group, threads included; BENCH_HZ ticks a second.
BENCH_HZ=$(getconf CLK_TCK)
bench_group_ticks() {
	local pid t=0

	for pid in $(pgrep -g "$1"); do
		t=$((t + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null || echo 0)))
	done
	echo $t
}

# bench_wrk_round FILE ROUND WHO PGID DUR LABEL URL: one wrk run, -t1
# -c$CONNS for DUR seconds with the script $LUA (proxy_chat.lua) on CPU
# $CLIENT_CPU, against URL; appends "ROUND WHO rps p50 p99 cpu_us_per_req"
# (the CPU of process group PGID) to FILE and, past round 0, prints the round.
# 1, said on stderr, when wrk failed or saw error answers or socket errors.
bench_wrk_round() {
	local file=$1 round=$2 who=$3 pg=$4 d=$5 label=$6 url=$7 ticks out
	local reqs secs rps p50 p99 status errors

	ticks=$(bench_group_ticks "$pg")
	out=$(timeout $((${d%.*} + 15)) taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"${d}s" -s "$LUA" \
		"$url" 2>&1 | grep WRK_RESULT) || out=
	ticks=$(($(bench_group_ticks "$pg") - ticks))
	if [ -z "$out" ]; then
		bench_log "round $round $who: wrk failed"
		return 1
	fi
	eval "${out#WRK_RESULT }"
	echo "$round $who $rps $p50 $p99 $(awk -v t="$ticks" -v hz="$BENCH_HZ" -v n="$reqs" \
		'BEGIN { printf "%.1f", n ? t / hz * 1e6 / n : 0 }')" >>"$file"
	[ "$round" = 0 ] || printf '   round %d %s %-3s %9.0f req/s  p99 %7d us\n' \
		"$round" "$label" "$who" "$rps" "$p99" >&2
	if [ "$status" != 0 ] || [ "$errors" != 0 ]; then
		bench_log "round $round $who: $status error answers, $errors socket errors"
		return 1
	fi
}

# bench_rotate N WORDS...: the words, starting at the (N mod count)th, so
# each round runs the contenders in another order.
bench_rotate() {
	local n=$1 a

	shift
	a=("$@")
	n=$((n % ${#a[@]}))
	echo "${a[@]:n}" "${a[@]:0:n}"
}

# Result files hold one line per round and contender: "ROUND NAME FIELD...";
# round 0 warms up and is left out of every summary.
# bench_stat FILE NAME FIELD [FMT]: "median (min-max)" of FIELD (column) for NAME
bench_stat() {
	awk -v n="$2" -v f="$3" '$1 >= 1 && $2 == n { print $f }' "$1" | bench_summary "${4:-%.0f}"
}

# bench_ratio FILE NAME BASE FIELD [FMT]: per-round NAME/BASE of FIELD, summarised
bench_ratio() {
	awk -v n="$2" -v b="$3" -v f="$4" '$1 >= 1 && $2 == n { v[$1] = $f } $1 >= 1 && $2 == b { w[$1] = $f }
		END { for (r in v) if (r in w && w[r] > 0) print v[r] / w[r] }' "$1" | bench_summary "${5:-%.2f}"
}

# bench_diff FILE NAME BASE FIELD [FMT]: per-round NAME-BASE of FIELD, summarised
bench_diff() {
	awk -v n="$2" -v b="$3" -v f="$4" '$1 >= 1 && $2 == n { v[$1] = $f } $1 >= 1 && $2 == b { w[$1] = $f }
		END { for (r in v) if (r in w) print v[r] - w[r] }' "$1" | bench_summary "${5:-%.0f}"
}

# bench_met VALUE >=|<= TARGET: "met" or "NOT met"
bench_met() {
	awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN { ok = op == ">=" ? v >= t : v <= t; print ok ? "met" : "NOT met" }'
}

# bench_bins FILE...: copies each built FILE (bench/x as x) into BENCH_TMP,
# the tree may be rebuilt while a bench runs; sets BUILD and T.
bench_bins() {
	local f

	BUILD=${SLUICE_BUILD:-$ROOT/build}
	for f in "$@"; do
		[ -x "$BUILD/$f" ] || bench_die "$BUILD/$f not built (make tests)"
		cp "$BUILD/$f" "$BENCH_TMP/${f##*/}"
	done
	T=$BENCH_TMP
}

# bench_chat_body: $T/body.json, the chat request proxy_chat.lua sends; sets LUA.
bench_chat_body() {
	LUA=$ROOT/scripts/bench/proxy_chat.lua
	sed -n 's/^local body = \[\[\(.*\)\]\] -- BODY$/\1/p' "$LUA" >"$T/body.json"
	[ -s "$T/body.json" ] || bench_die "no BODY line in $LUA"
}

# bench_sluiced_rev [PATH...]: "sluiced VERSION (COMMIT[, PATH... modified])"
# of $T/sluiced and the checkout; PATH defaults to user/gw.
bench_sluiced_rev() {
	local paths=("${@:-user/gw}") dirty

	[ -n "$(git -C "$ROOT" status --porcelain -- "${paths[@]}" 2>/dev/null)" ] && dirty=", ${paths[*]} modified"
	echo "sluiced $("$T/sluiced" --version 2>&1 | awk '{ print $NF }')" \
		"($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo ?)${dirty:-})"
}
