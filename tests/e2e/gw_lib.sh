#!/usr/bin/env bash
# Shared by tests/e2e/gw_*.sh (sourced): sluiced between a client and two
# mock backends, each host in its own network namespace.
#
#   PREFIX-client    198.18.1.2  ─┐
#   PREFIX-backend1  198.18.11.2 ─┼─ PREFIX-gw: sluiced on 198.18.1.1
#   PREFIX-backend2  198.18.12.2 ─┘            (8443 TLS, 8080 plain)
#
#   . "$(dirname "$0")/gw_lib.sh"
#   gw_start proxy 90        # lab, certificates, trap, watchdog
#   gw_mock backend1 9000 --echo
#   cat >"$GW_CFG" <<EOF     # { "listeners"... from $(gw_listeners), pools, routes }
#   gw_sluiced "$GW_CFG"     # in the gw namespace, log in $GW_LOG
#   is "name" "$(cl ...)" want   # curl from the client; TAP from lib.sh
#   mstat backend1 9000 .requests.total   # what the mock saw
#
# The EXIT trap ends every process started here (by pid: those in the
# lab's namespaces through lab_down, the helper shells through GW_PIDS),
# deletes the namespaces and the temp files, and prints the plan line.
# No xdp section is configured, so no BPF pins are made.
# shellcheck disable=SC2034 # GW_*, TLS_URL, HTTP_URL are for the files that source this

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

GW_BUILD=${SLUICE_BUILD:-$E2E_ROOT/build}
case $GW_BUILD in /*) ;; *) GW_BUILD=$PWD/$GW_BUILD ;; esac
# the token tables `make tests` made, for configs whose tokenizer names none
export SLUICE_TIKTOKEN_DIR=${SLUICE_TIKTOKEN_DIR:-$GW_BUILD/share/tiktoken}
SLUICED=$GW_BUILD/sluiced
MOCKLLM=$GW_BUILD/mockllm
GW_PIDS=()
GW_XDP_DEVS=()
SLUICED_PID=
GW_V4=198.18.1.1
GW_TLS=8443
GW_HTTP=8080

# gw_start NAME [WATCHDOG_S]: a unique lab (client, gw, backend1, backend2).
gw_start() {
	local t
	E2E_NAME=$1
	for t in jq curl openssl socat python3; do
		command -v $t >/dev/null || {
			echo "not ok - $E2E_NAME: needs $t (make test-deps)"
			exit 1
		}
	done
	[ -x "$SLUICED" ] && [ -x "$MOCKLLM" ] || {
		echo "not ok - $E2E_NAME: $SLUICED or $MOCKLLM missing (make)"
		exit 1
	}
	# "g", two letters of the name, the pid: at most 10 characters
	lab_init "g${E2E_NAME:0:2}$$" || exit 1
	trap gw_cleanup EXIT
	trap 'exit 130' INT TERM
	export LAB_QUIET=1
	mkdir -p "$LAB_STATE" && : >>"$LAB_STATE/hosts" || exit 1
	GW_TMP=$LAB_STATE
	GW_CFG=$GW_TMP/sluice.json
	GW_LOG=$GW_TMP/sluiced.log
	lab_host_add client c 1 && lab_host_add backend1 b1 11 && lab_host_add backend2 b2 12 ||
		{ not_ok "lab up"; exit 1; }
	e2e_watchdog "${2:-90}"
	gw_certs || { not_ok "test certificates"; exit 1; }
	diag "lab $LAB_PREFIX, $(nproc) CPUs"
}

# gw_xdp_pins DEV...: the data plane's pins under a root of this test's own;
# gw_cleanup detaches sluice_xdp from the gateway's DEVs and removes the root.
gw_xdp_pins() {
	export SLUICE_PIN_ROOT=/sys/fs/bpf/sluice-gw$E2E_NAME-$$
	GW_XDP_DEVS=("$@")
}

gw_cleanup() {
	local rc=$? p
	trap - EXIT INT TERM
	[ -n "$E2E_WATCHDOG" ] && kill "$E2E_WATCHDOG" 2>/dev/null
	for p in "${GW_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${GW_XDP_DEVS[@]}"; do
		lab_ctl gw iface detach "$p" purge >/dev/null 2>&1
	done
	[ "${#GW_XDP_DEVS[@]}" = 0 ] || rm -rf "$SLUICE_PIN_ROOT"
	# a SAN=1 build reports into the log: any report is a failure of the test
	if [ -f "${GW_LOG:-}" ] && grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
		"$GW_LOG" "$GW_LOG.old" 2>/dev/null; then
		not_ok "sluiced's log has no sanitizer report" \
			"$(grep -hE -m 3 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$GW_LOG" "$GW_LOG.old" 2>/dev/null)"
	fi
	if [ "$E2E_FAILED" != 0 ] && [ -f "${GW_LOG:-}" ]; then
		diag "last lines of sluiced's log:"
		tail -n 25 "$GW_LOG" | sed 's/^/#   /'
	fi
	lab_down
	echo "1..$E2E_COUNT"
	[ "$E2E_FAILED" = 0 ] || rc=1
	exit "$rc"
}

# A CA; api.test (also 198.18.1.1, the default certificate), other.test,
# backend1 (198.18.11.2, for upstream TLS) and a client certificate for
# mTLS, all signed by the CA. EC P-256: quick.
gw_certs() {
	local d=$GW_TMP/tls n
	mkdir -p "$d" || return 1
	(
		cd "$d" || exit 1
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
			-subj /CN=sluice-test-ca -keyout ca.key -out ca.pem \
			-addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign 2>/dev/null || exit 1
		for n in api:DNS:api.test,IP:198.18.1.1 other:DNS:other.test \
			backend1:DNS:backend1.test,IP:198.18.11.2 client:; do
			openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
				-subj "/CN=${n%%:*}.test" -keyout "${n%%:*}.key" -out "${n%%:*}.csr" 2>/dev/null || exit 1
			if [ "${n%%:*}" = client ]; then
				echo "extendedKeyUsage=clientAuth" >"${n%%:*}.ext"
			else
				printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "${n#*:}" >"${n%%:*}.ext"
			fi
			openssl x509 -req -in "${n%%:*}.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
				-extfile "${n%%:*}.ext" -out "${n%%:*}.pem" 2>/dev/null || exit 1
		done
	)
	GW_CA=$d/ca.pem
	GW_CERTS=$d
}

# gw_mock ROLE PORT ARGS...: mockllm on the host's v4 address; waits until it listens.
gw_mock() {
	local role=$1 port=$2 pid
	shift 2
	pid=$(lab_bg "$role" "$MOCKLLM" --listen "$(gw_host "$role"):$port" -t 1 "$@") || return 1
	lab_wait_listen "$role" "$port" >/dev/null || return 1
	echo "$pid"
}

# The v4 address of a host role.
gw_host() { echo "198.18.$(lab_net "$1").2"; }

# gw_sluiced CONFIG [ARGS]: sluiced in the gw namespace, a child of this
# shell (so `wait` gives its exit status), log in GW_LOG. Waits for its
# listeners. Sets SLUICED_PID. With GW_ROOT_MOUNTS=1 only the network
# namespace is entered, so sluiced shares the root's bpffs (ip netns exec
# would remount /sys) as the data plane needs.
gw_sluiced() {
	local cfg=$1
	shift
	if [ "${GW_ROOT_MOUNTS:-0}" = 1 ]; then
		nsenter --net=/run/netns/"$LAB_GW" "$SLUICED" -c "$cfg" "$@" </dev/null >>"$GW_LOG" 2>&1 &
	else
		ip netns exec "$LAB_GW" "$SLUICED" -c "$cfg" "$@" </dev/null >>"$GW_LOG" 2>&1 &
	fi
	SLUICED_PID=$!
	for _ in $(seq 50); do
		grep -q ' started ' "$GW_LOG" 2>/dev/null && return 0
		kill -0 "$SLUICED_PID" 2>/dev/null || break
		sleep 0.1
	done
	not_ok "sluiced starts" "$(tail -n 5 "$GW_LOG")"
	return 1
}

# The listeners every gw test uses: TLS with two certificates, and plain.
gw_listeners() {
	cat <<EOF
  "listeners": [
    { "name": "tls", "address": "$GW_V4:$GW_TLS",
      "tls": { "certificates": [
        { "cert": "$GW_CERTS/api.pem", "key": "$GW_CERTS/api.key" },
        { "cert": "$GW_CERTS/other.pem", "key": "$GW_CERTS/other.key" } ] } },
    { "name": "plain", "address": "$GW_V4:$GW_HTTP" }
  ]
EOF
}

# cl ARGS: curl in the client namespace, trusting the test CA, api.test
# resolving to the gateway. Bounded in time.
cl() {
	ip netns exec "$(lab_ns client)" curl -sS --max-time 10 --cacert "$GW_CA" \
		--resolve "api.test:$GW_TLS:$GW_V4" --resolve "other.test:$GW_TLS:$GW_V4" "$@"
}

# TLS and plain base URLs.
TLS_URL=https://api.test:$GW_TLS
HTTP_URL=http://$GW_V4:$GW_HTTP

# mstat ROLE PORT [JQ]: the mock's /stats (or a jq expression of it), read
# in the backend's own namespace so it never goes through the gateway.
mstat() {
	ip netns exec "$(lab_ns "$1")" curl -sS --max-time 5 "http://$(gw_host "$1"):$2/stats" |
		jq -r "${3:-.}"
}

# gw_metric SOCKET NAME: the sum of NAME's series (any labels) in the /metrics
# of the admin endpoint on the unix SOCKET; 0 when it has none.
gw_metric() {
	curl -sS --max-time 5 --unix-socket "$1" http://sluice/metrics |
		awk -v m="$2" '$1 == m || index($1, m "{") == 1 { s += $2 } END { print s + 0 }'
}

# madmin ROLE PORT PATH [BODY]: POST to the mock's /admin/PATH.
madmin() {
	ip netns exec "$(lab_ns "$1")" curl -sS --max-time 5 -o /dev/null -w '%{http_code}' \
		-X POST --data-binary "${4:-}" "http://$(gw_host "$1"):$2/admin/$3"
}

# spawn CMD...: runs CMD in the background, ended by the trap if still running.
# Sets BG_PID.
spawn() {
	"$@" &
	BG_PID=$!
	GW_PIDS+=("$BG_PID")
}

# wait_for SECONDS CMD...: polls CMD every 50 ms until it succeeds. Prints the
# time taken in ms; fails when time runs out.
wait_for() {
	local secs=$1 t0
	shift
	t0=$(date +%s%N)
	for _ in $(seq $((secs * 20))); do
		if "$@" >/dev/null 2>&1; then
			echo $((($(date +%s%N) - t0) / 1000000))
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# Run directly (tests/run.sh does, as it runs every tests/e2e/*.sh), this
# file checks the lab the gw tests stand on.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	gw_start lib 60
	ok_if "the test certificates verify against the test CA" \
		openssl verify -CAfile "$GW_CA" "$GW_CERTS"/{api,other,backend1,client}.pem
	is "api.test's certificate also names the gateway's address" \
		"$(openssl x509 -in "$GW_CERTS/api.pem" -noout -ext subjectAltName | tail -n 1 | tr -d ' ')" \
		"DNS:api.test,IPAddress:198.18.1.1"
	gw_mock backend1 9000 >/dev/null
	is "a mock on backend1 answers the gateway" \
		"$(ip netns exec "$LAB_GW" curl -s --max-time 2 "http://$(gw_host backend1):9000/health")" '{"status":"ok"}'
	is "the client cannot reach a backend past the gateway" \
		"$(cl -o /dev/null -w '%{http_code}' --connect-timeout 1 "http://$(gw_host backend1):9000/health" 2>/dev/null)" 000
	lab_down
	ok_if "down removes the lab's namespaces" test -z "$(lab_namespaces)"
fi
