#!/usr/bin/env bash
# The TLS listener audited from the client: testssl.sh finds nothing rated
# MEDIUM or above (protocols, cipher categories, server defaults and order,
# forward secrecy, the known vulnerabilities), and openssl s_client checks
# the policy one rule at a time: TLS 1.2 and 1.3 only, ECDHE with AEAD only
# in the server's order, resumption by ticket on every worker, under SNI and
# with client certificates, ALPN http/1.1, SNI, no renegotiation, no
# compression.
set -u
. "$(dirname "$0")/gw_lib.sh"

# testssl takes 75 s or so on 2 cores; its timeout (and this watchdog)
# leave room for a busy machine
gw_start tls 420
command -v testssl >/dev/null || { not_ok "needs testssl (make test-deps)"; exit 1; }
M=9000
gw_mock backend1 $M --echo >/dev/null || { not_ok "mock on backend1"; exit 1; }
MTLS=8444
cat >"$GW_CFG" <<EOF
{
  "workers": 2,
$(gw_listeners | sed '$d'),
    { "name": "mtls", "address": "$GW_V4:$MTLS",
      "tls": { "certificates": [ { "cert": "$GW_CERTS/api.pem", "key": "$GW_CERTS/api.key" } ],
               "client_ca": "$GW_CA", "client_required": true } }
  ],
  "pools": { "echo": { "backends": [ { "url": "http://$(gw_host backend1):$M" } ] } },
  "routes": [ { "name": "all", "match": { "path": "/" }, "pool": "echo" } ]
}
EOF
gw_sluiced "$GW_CFG" || exit 1

# --- testssl.sh ---
# Protocols, cipher categories, server defaults (certificate, tickets),
# server order, forward secrecy, RC4, and each vulnerability but BREACH (no
# HTTP compression here). Not --fast: that lets the local openssl offer the
# ciphers, and it has no RC4 to offer; testssl's own sockets have.
# --nodns none: the lab has no DNS.
ts=$GW_TMP/testssl.json
t0=$(date +%s)
ip netns exec "$(lab_ns client)" timeout 300 testssl --quiet --warnings off --color 0 --sneaky \
	--nodns none --connect-timeout 10 --openssl-timeout 20 --add-ca "$GW_CA" --jsonfile "$ts" \
	-p -s -S -P -f -4 -H -I -T -BB -R -C -O -Z -W -F -D -J -A -L "$GW_V4:$GW_TLS" >"$ts.log" 2>&1
rc=$?
diag "testssl: $(($(date +%s) - t0)) s"
# Its exit status counts the checks that could not run (each also a WARN in
# the JSON, judged below); from 242 up it is testssl's own failure, 124 the timeout
if [ "$rc" -lt 124 ]; then
	ok "testssl: finishes (exit status $rc: no timeout, no fatal error)"
else
	mapfile -t why < <(grep -iE 'problem|timeout|fatal|oops' "$ts.log" | head -n 5)
	not_ok "testssl: finishes" "exit status: $rc" "${why[@]}"
fi
jq -e 'type == "array"' "$ts" >/dev/null 2>&1 || echo '[]' >"$ts"

# Findings of the test setup, not of the server's configuration, each
# allowed by its id and its text, nothing else:
#   cert_expirationStatus, cert_notAfter: the test certificates last 2 days
#   cert_revocation: the test CA publishes no CRL and runs no OCSP responder
#   engine_problem (WARN): testssl's local openssl has no GOST engine
#   sessionresumption_ticket (WARN, "connect problem"): testssl 3.0.8 tries
#     resumption in the version it first saw a ticket in. When that was TLS
#     1.3 (a matter of timing), its s_client, reading stdin from /dev/null,
#     ends before the ticket (sent after the handshake) arrives and has no
#     session to offer: testssl's failure, not the server's. Resumption is
#     checked below with s_client, which waits for an answer first.
allow='{ "cert_expirationStatus": "^expires < 30 days",
	"cert_notAfter": "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}$",
	"cert_revocation": "^Neither CRL nor OCSP URI provided$",
	"engine_problem": "^No engine or GOST support via engine",
	"sessionresumption_ticket": "^check failed because of connect problem$" }'
# WARN and FATAL too: a check testssl could not make is not a pass
rated=$(jq -r --argjson allow "$allow" '.[] | select(.severity | test("^(MEDIUM|HIGH|CRITICAL|WARN|FATAL)$"))
	| (.id as $id | $allow[$id] // null) as $re
	| [if $re != null and (.finding | test($re)) then "allowed" else "bad" end, .id, .severity, .finding]
	| @tsv' "$ts") || rated=$'bad\tjson\tFATAL\ttestssl.json does not read'
while IFS=$'\t' read -r what id s text; do
	case $what in
	allowed) diag "testssl allowed: $id ($s): $text" ;;
	bad) not_ok "testssl: $id ($s): $text" ;;
	esac
done <<<"$rated"
jq -r '.[] | select(.severity == "LOW") | "# testssl LOW: \(.id): \(.finding)"' "$ts"
grep -q '^bad' <<<"$rated" ||
	ok "testssl: no finding rated MEDIUM or above, no check it could not make ($(jq length "$ts") findings)"
# The audit covered what it was asked: no check silently left out
missing=$(jq -r '[.[].id] as $have | $ARGS.positional - $have | join(" ")' "$ts" --args \
	SSLv2 SSLv3 TLS1 TLS1_1 TLS1_2 TLS1_3 cipherlist_NULL cipherlist_aNULL cipherlist_EXPORT \
	cipherlist_LOW cipherlist_3DES_IDEA cipherlist_AVERAGE PFS cipher_order cert_chain_of_trust \
	heartbleed CCS ticketbleed ROBOT secure_renego secure_client_renego CRIME_TLS POODLE_SSL \
	fallback_SCSV SWEET32 FREAK DROWN LOGJAM BEAST LUCKY13 RC4) || missing="(its JSON does not read)"
is "testssl: every check asked for reported" "$missing" ""
finding() { jq -r --arg id "$1" '[.[] | select(.id == $id) | .finding] | join(" | ")' "$ts"; }
is "testssl: TLS 1.0 and 1.1 not offered, 1.2 and 1.3 (final) offered" \
	"$(finding TLS1), $(finding TLS1_1), $(finding TLS1_2), $(finding TLS1_3)" \
	"not offered, not offered, offered, offered with final"
is "testssl: the chain verifies against the test CA (--add-ca)" "$(finding cert_chain_of_trust)" "passed."
is "testssl: the server orders the ciphers" "$(finding cipher_order)" "server"
# (as a set: the order testssl lists them in is its own)
words() { tr ' ' '\n' | LC_ALL=C sort | paste -sd ' '; }
fs="ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-ECDSA-CHACHA20-POLY1305"
fs+=" TLS_AES_128_GCM_SHA256 TLS_AES_256_GCM_SHA384 TLS_CHACHA20_POLY1305_SHA256"
is "testssl: the forward-secret ciphers offered are ECDHE AEAD ones and TLS 1.3's" \
	"$(finding PFS_ciphers | words)" "$(words <<<"$fs")"

# --- openssl s_client ---
# sclient PORT ARGS: s_client from the client against PORT, stdout and stderr
sclient() {
	local port=$1
	shift
	ip netns exec "$(lab_ns client)" timeout 5 openssl s_client -connect "$GW_V4:$port" \
		-CAfile "$GW_CA" "$@" 2>&1
}
# Whether the handshake made a session, and which
session() { sed -n 's/^\(New\|Reused\), \(TLSv1[.0-9]*\), Cipher is \(.*\)/\1 \2 \3/p' <<<"$1"; }
# refused OUTPUT ALERT: no session was made, and the server sent ALERT
refused() { grep -q '^New, (NONE), Cipher is (NONE)$' <<<"$1" && grep -q "$2" <<<"$1"; }

for v in 1 1_1; do
	# SECLEVEL=0 so that the refusal is the server's, not the local openssl's
	out=$(sclient "$GW_TLS" -servername api.test -tls$v -cipher 'DEFAULT:@SECLEVEL=0' </dev/null)
	ok_if "TLS 1.${v#1_}: refused with a protocol_version alert" refused "$out" 'alert protocol version'
done
out=$(sclient "$GW_TLS" -servername api.test -tls1_3 </dev/null)
is "TLS 1.3: accepted, TLS_AES_256_GCM_SHA384 first" "$(session "$out")" "New TLSv1.3 TLS_AES_256_GCM_SHA384"
ok_if "TLS 1.3: the chain verifies for api.test" grep -q '^Verify return code: 0 (ok)' <<<"$out"
for c in ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-ECDSA-CHACHA20-POLY1305; do
	is "TLS 1.2: $c (ECDHE, AEAD) accepted" \
		"$(session "$(sclient "$GW_TLS" -servername api.test -tls1_2 -cipher $c </dev/null)")" "New TLSv1.2 $c"
done
# AES128-GCM-SHA256 has RSA key exchange (and the test certificates are EC, so
# the ECDHE-ECDSA CBC suites are the ones that could otherwise be picked)
for c in AES128-GCM-SHA256 ECDHE-ECDSA-AES128-SHA ECDHE-ECDSA-AES256-SHA ECDHE-ECDSA-AES128-SHA256 \
	ECDHE-ECDSA-AES256-SHA384; do
	out=$(sclient "$GW_TLS" -servername api.test -tls1_2 -cipher "$c" </dev/null)
	ok_if "TLS 1.2: $c (not forward secret or not AEAD) refused with handshake_failure" \
		refused "$out" 'alert handshake failure'
done
is "TLS 1.2: the server's order: offered AES256-GCM then AES128-GCM, it picks AES128-GCM" \
	"$(session "$(sclient "$GW_TLS" -servername api.test -tls1_2 \
		-cipher ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256 </dev/null)")" \
	"New TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256"
is "TLS 1.2: a client that lists ChaCha20 first gets it (no AES instructions, presumably)" \
	"$(session "$(sclient "$GW_TLS" -servername api.test -tls1_2 \
		-cipher ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256 </dev/null)")" \
	"New TLSv1.2 ECDHE-ECDSA-CHACHA20-POLY1305"
out=$(sclient "$GW_TLS" -servername api.test -tls1_2 </dev/null)
is "TLS 1.2: no compression, extended master secret, secure renegotiation (RFC 5746)" \
	"$(grep -E '^Compression: |^ *Extended master secret: |^Secure Renegotiation' <<<"$out" | sed 's/^ *//' | paste -sd ' ')" \
	"Secure Renegotiation IS supported Compression: NONE Extended master secret: yes"
out=$( (sleep 1; echo R; sleep 2) | sclient "$GW_TLS" -servername api.test -tls1_2)
is "TLS 1.2: client-initiated renegotiation refused (no_renegotiation alert)" \
	"$(grep -Eo '^RENEGOTIATING|:no renegotiation:' <<<"$out" | paste -sd ' ')" "RENEGOTIATING :no renegotiation:"

# SNI: the certificate whose names match, the first one otherwise
subject() { sclient "$GW_TLS" "$@" </dev/null | openssl x509 -noout -subject 2>/dev/null; }
is "SNI api.test: the api.test certificate" "$(subject -servername api.test)" "subject=CN = api.test"
is "SNI other.test: the other.test certificate" "$(subject -servername other.test)" "subject=CN = other.test"
is "no SNI: the first certificate (api.test)" "$(subject -noservername)" "subject=CN = api.test"
is "SNI of no certificate's (nope.test): the first certificate" "$(subject -servername nope.test)" "subject=CN = api.test"
out=$(sclient "$GW_TLS" -servername other.test -verify_hostname other.test -verify_return_error </dev/null)
ok_if "SNI other.test: the chain verifies for other.test" grep -q '^Verify return code: 0 (ok)' <<<"$out"

# ALPN: http/1.1 only; no overlap is fatal (RFC 7301 section 3.2)
alpn() { sclient "$GW_TLS" -servername api.test "$@" </dev/null | grep -E '^ALPN protocol: |^No ALPN|alert no application protocol' | paste -sd ' '; }
is "ALPN http/1.1: selected" "$(alpn -alpn http/1.1)" "ALPN protocol: http/1.1"
is "ALPN h2,http/1.1: http/1.1 selected" "$(alpn -alpn h2,http/1.1)" "ALPN protocol: http/1.1"
ok_if "ALPN h2 alone: refused with no_application_protocol" grep -q 'alert no application protocol' <<<"$(alpn -alpn h2)"
is "no ALPN offered: none selected, the handshake goes on" "$(alpn)" "No ALPN negotiated"

# Resumption by ticket. A request on each connection, so that the TLS 1.3
# ticket (sent after the handshake) reaches s_client before it saves the
# session. Prints "New|Reused VERSION SUBJECT-CN STATUS".
req=$'GET /v1/models HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n'
visit() {
	local out
	out=$(printf '%s' "$req" | sclient "$@" -ign_eof)
	echo "$(session "$out" | cut -d' ' -f1,2) $(sed -n 's/^subject=CN = //p' <<<"$out" | head -n 1)" \
		"$(sed -n 's/^HTTP\/1.1 \([0-9]*\) .*/\1/p' <<<"$out")"
}
for v in 1_2 1_3; do
	V=TLSv${v/_/.}
	for host in api.test other.test; do
		sess=$GW_TMP/$host-$v.sess
		is "$V, SNI $host: a full handshake (New) answers 200" \
			"$(visit "$GW_TLS" -servername $host -tls$v -sess_out "$sess")" "New $V $host 200"
		got=$(for _ in 1 2 3 4 5 6 7 8; do visit "$GW_TLS" -servername $host -tls$v -sess_in "$sess"; done | sort | uniq -c | sed 's/^ *//')
		# two workers, each with its own SO_REUSEPORT socket that the kernel
		# spreads connections over (all eight on one: about 1 in 128)
		is "$V, SNI $host: 8 of 8 connections resume the session, whichever worker has them" \
			"$got" "8 Reused $V $host 200"
	done
	cert=(-cert "$GW_CERTS/client.pem" -key "$GW_CERTS/client.key")
	sess=$GW_TMP/mtls-$v.sess
	is "$V, mTLS listener: a full handshake with a client certificate answers 200" \
		"$(visit "$MTLS" -servername api.test -tls$v "${cert[@]}" -sess_out "$sess")" "New $V api.test 200"
	is "$V, mTLS listener: the next connection resumes (session id context set)" \
		"$(visit "$MTLS" -servername api.test -tls$v "${cert[@]}" -sess_in "$sess")" "Reused $V api.test 200"
	is "$V, mTLS listener: a session of the other listener is not resumed (its own ticket keys)" \
		"$(visit "$MTLS" -servername api.test -tls$v "${cert[@]}" -sess_in "$GW_TMP/api.test-$v.sess")" \
		"New $V api.test 200"
done
ok_if "sluiced is still running" kill -0 "$SLUICED_PID"
