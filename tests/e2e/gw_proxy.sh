#!/usr/bin/env bash
# sluiced as a proxy, end to end: TLS (SNI, ALPN, resumption, versions,
# mTLS), the plain listener, what reaches the backend (body bytes, request
# id, forwarding headers, hop-by-hop headers dropped, model rewrite,
# chunked body re-framed), keep-alive on both sides, errors in the API's
# shape, and RFC 9112 framing refusals that never reach a backend.
set -u
. "$(dirname "$0")/gw_lib.sh"

gw_start proxy 90
M=9000
gw_mock backend1 $M --echo --echo-headers '*' >/dev/null || { not_ok "mock on backend1"; exit 1; }
gw_mock backend2 $M --echo --echo-headers '*' >/dev/null || { not_ok "mock on backend2"; exit 1; }
B1=$(gw_host backend1)
B2=$(gw_host backend2)
# TLS in front of backend1's mock: its own certificate on 9443, other.test's on 9444
for t in 9443:backend1 9444:other; do
	lab_bg backend1 socat "OPENSSL-LISTEN:${t%%:*},bind=$B1,reuseaddr,fork,verify=0,cert=$GW_CERTS/${t#*:}.pem,key=$GW_CERTS/${t#*:}.key" \
		"TCP:$B1:$M" >/dev/null
	lab_wait_listen backend1 "${t%%:*}" >/dev/null || { not_ok "TLS in front of backend1"; exit 1; }
done
cat >"$GW_CFG" <<EOF
{
  "workers": 2,
$(gw_listeners | sed '$d'),
    { "name": "mtls", "address": "$GW_V4:8444",
      "tls": { "certificates": [ { "cert": "$GW_CERTS/api.pem", "key": "$GW_CERTS/api.key" } ],
               "client_ca": "$GW_CA", "client_required": true } }
  ],
  "pools": {
    "echo": { "backends": [ { "url": "http://$B1:$M" } ] },
    "mapped": { "backends": [ { "url": "http://$B2:$M", "model_map": { "gpt-4o": "llama-3-70b" } } ] },
    "tls-up": { "backends": [ { "url": "https://$B1:9443", "ca_file": "$GW_CA" } ] },
    "tls-wrong-name": { "backends": [ { "url": "https://$B1:9444", "ca_file": "$GW_CA" } ], "retries": 0 },
    "tls-no-verify": { "backends": [ { "url": "https://$B1:9444", "tls_verify": false } ] }
  },
  "routes": [
    { "name": "refused", "match": { "path": "/v1/refused" }, "action": "refuse" },
    { "name": "tls-up", "match": { "headers": { "x-pool": "tls-up" } }, "pool": "tls-up" },
    { "name": "tls-wrong-name", "match": { "headers": { "x-pool": "tls-wrong-name" } }, "pool": "tls-wrong-name" },
    { "name": "tls-no-verify", "match": { "headers": { "x-pool": "tls-no-verify" } }, "pool": "tls-no-verify" },
    { "name": "mapped", "match": { "path": "/v1/chat/completions", "model": "gpt-4o*" }, "pool": "mapped" },
    { "name": "v1", "match": { "path": "/v1/" }, "pool": "echo" }
  ]
}
EOF
gw_sluiced "$GW_CFG" || exit 1

# --- TLS ---
# sclient ARGS: openssl s_client from the client, output (stdout+stderr) printed
sclient() {
	ip netns exec "$(lab_ns client)" timeout 5 openssl s_client -connect "$GW_V4:$GW_TLS" "$@" 2>&1
}
subject() { sclient "$@" </dev/null | openssl x509 -noout -subject 2>/dev/null; }
is "SNI api.test gets the api.test certificate" "$(subject -servername api.test)" "subject=CN = api.test"
is "SNI other.test gets the other.test certificate" "$(subject -servername other.test)" "subject=CN = other.test"
is "no SNI (an IP address) gets the first certificate" "$(subject -noservername)" "subject=CN = api.test"
is "an unknown SNI name gets the first certificate" "$(subject -servername nope.test)" "subject=CN = api.test"
out=$(sclient -servername other.test -CAfile "$GW_CA" -verify_hostname other.test -verify_return_error </dev/null)
ok_if "the other.test chain verifies against the test CA for other.test" grep -q 'Verify return code: 0 (ok)' <<<"$out"

is "ALPN: offered h2,http/1.1, the server picks http/1.1" \
	"$(sclient -servername api.test -alpn h2,http/1.1 </dev/null | sed -n 's/^ALPN protocol: //p')" "http/1.1"
out=$(sclient -servername api.test -alpn h2 </dev/null)
ok_if "ALPN: h2 alone is refused with no_application_protocol (RFC 7301)" \
	grep -q 'no application protocol' <<<"$out"

out=$(sclient -servername api.test -tls1_1 -cipher 'DEFAULT@SECLEVEL=0' </dev/null)
ok_if "TLS 1.1 is refused with a protocol_version alert" grep -q 'alert protocol version' <<<"$out"
ok_if "TLS 1.1: no session is established" eval '! grep -q "^New, TLSv1" <<<"$out"'
out=$(sclient -servername api.test -tls1_3 </dev/null)
ok_if "TLS 1.3 is accepted" grep -q '^New, TLSv1.3, Cipher is TLS_' <<<"$out"
out=$(sclient -servername api.test -tls1_2 </dev/null)
ok_if "TLS 1.2 is accepted with an ECDHE AEAD cipher" grep -Eq '^New, TLSv1.2, Cipher is ECDHE-ECDSA-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$' <<<"$out"
out=$(sclient -servername api.test -tls1_2 -cipher AES128-SHA </dev/null)
ok_if "TLS 1.2 with a non-intermediate cipher (AES128-SHA) is refused" eval '! grep -q "^New, TLSv1.2" <<<"$out"'

# Resumption: a request on the first connection so the TLS 1.3 ticket arrives
req_close=$'GET /v1/models HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n'
for v in 1_2 1_3; do
	sess=$GW_TMP/sess$v
	first=$(printf '%s' "$req_close" | sclient -servername api.test -tls$v -ign_eof -sess_out "$sess")
	second=$(printf '%s' "$req_close" | sclient -servername api.test -tls$v -ign_eof -sess_in "$sess")
	is "TLS ${v/_/.}: first handshake is full (New) and answers 200" \
		"$(grep -c "^New, TLSv${v/_/.}," <<<"$first") $(grep -c '^HTTP/1.1 200' <<<"$first")" "1 1"
	is "TLS ${v/_/.}: second handshake resumes the session (Reused) and answers 200" \
		"$(grep -c "^Reused, TLSv${v/_/.}," <<<"$second") $(grep -c '^HTTP/1.1 200' <<<"$second")" "1 1"
done

is "curl over TLS (verified against the test CA) gets 200" \
	"$(cl -o /dev/null -w '%{http_code} %{ssl_verify_result}' "$TLS_URL/v1/models")" "200 0"
is "mTLS listener: a client without a certificate is refused" \
	"$(cl -o /dev/null -w '%{http_code}' "https://api.test:8444/v1/models" 2>/dev/null)" "000"
is "mTLS listener: a client with a certificate from the CA gets 200" \
	"$(cl -o /dev/null -w '%{http_code}' --resolve api.test:8444:$GW_V4 --cert "$GW_CERTS/client.pem" \
		--key "$GW_CERTS/client.key" "https://api.test:8444/v1/models")" "200"
is "plain listener: GET /v1/models gets 200 and the mock's model list" \
	"$(cl -w '\n%{http_code}' "$HTTP_URL/v1/models" | jq -rs '"\(.[0].data[0].id) \(.[1])"')" "mock-model 200"

# Upstream TLS: the backend's certificate is verified, name (here its address) included
t1=$(mstat backend1 $M .requests.total)
is "upstream TLS: a backend with a certificate from ca_file for its address answers 200" \
	"$(cl -o /dev/null -w '%{http_code}' -H 'x-pool: tls-up' "$HTTP_URL/v1/models")" 200
err=$(cl -w '\n%{http_code}' -H 'x-pool: tls-wrong-name' "$HTTP_URL/v1/models")
is "upstream TLS: a certificate for another name is refused: 502 in OpenAI shape" \
	"$(tail -n 1 <<<"$err") $(head -n 1 <<<"$err" | jq -c "[.error.type, (.error.message | test(\"certificate verify failed\"))]")" "502 [\"api_error\",true]"
is "upstream TLS: with tls_verify false the same backend answers 200" \
	"$(cl -o /dev/null -w '%{http_code}' -H 'x-pool: tls-no-verify' "$HTTP_URL/v1/models")" 200
is "upstream TLS: the mock saw the two verified requests only" $(($(mstat backend1 $M .requests.total) - t1)) 2

# --- What reaches the backend ---
last() { mstat backend1 $M ".last_request$1"; }
hdr() { mstat "${2:-backend1}" $M "[.last_request.headers[] | select(.[0] | ascii_downcase == \"$1\") | .[1]] | join(\",\")"; }
body=$GW_TMP/body.json
printf '%s' '{"model":"m1","messages":[{"role":"user","content":"h\u00e9llo  wörld\n\t{} \"q\""}],"x":[1,2.5e3,null,true],"pad":"                                  "}' >"$body"
resp=$GW_TMP/resp.headers
cl -o /dev/null -D "$resp" -H 'content-type: application/json' --data-binary @"$body" "$TLS_URL/v1/chat/completions"
is "echo: the body reaches the backend byte for byte (sha256)" \
	"$(last .body | head -c -1 | sha256sum)" "$(sha256sum <"$body")"
is "echo: content-length at the backend is the body's size" "$(hdr content-length)/$(last .body_bytes)" \
	"$(stat -c %s "$body")/$(stat -c %s "$body")"
is "echo: method and target are kept" "$(last .method) $(last .target)" "POST /v1/chat/completions"
id=$(hdr x-request-id)
ok_if "x-request-id: generated when the client sends none (32 hex digits: '$id')" grep -Eqx '[0-9a-f]{32}' <<<"$id"
is "x-request-id: the generated id is returned to the client" \
	"$(sed -n 's/^x-request-id: \([^\r]*\)\r$/\1/Ip' "$resp")" "$id"
is "x-forwarded-for: the client's address (TLS listener)" "$(hdr x-forwarded-for)" "198.18.1.2"
is "x-forwarded-proto: https on the TLS listener" "$(hdr x-forwarded-proto)" "https"
is "host: the backend's authority" "$(hdr host)" "$B1:$M"

cl -o /dev/null -D "$resp" -H 'x-request-id: e2e-Req.42' -H 'x-forwarded-for: 6.6.6.6' \
	-H 'Connection: keep-alive, x-hop' -H 'x-hop: 1' -H 'Keep-Alive: timeout=5' -H 'TE: trailers' \
	-H 'Proxy-Connection: keep-alive' -H 'Trailer: x-t' -H 'x-e2e: kept' "$HTTP_URL/v1/models"
is "x-request-id: the client's id is propagated to the backend" "$(hdr x-request-id)" "e2e-Req.42"
is "x-request-id: the client's id comes back in the response" \
	"$(sed -n 's/^x-request-id: \([^\r]*\)\r$/\1/Ip' "$resp")" "e2e-Req.42"
is "x-forwarded-for: a client's own value is replaced, not trusted" "$(hdr x-forwarded-for)" "198.18.1.2"
is "x-forwarded-proto: http on the plain listener" "$(hdr x-forwarded-proto)" "http"
is "hop-by-hop headers (keep-alive, te, trailer, proxy-connection, those named in Connection) are removed" \
	"$(mstat backend1 $M '[.last_request.headers[][0] | ascii_downcase | select(IN("keep-alive","te","trailer","proxy-connection","x-hop","transfer-encoding","upgrade"))] | length')" "0"
is "connection: the backend sees sluiced's own, once" "$(hdr connection)" "keep-alive"
is "an end-to-end header is forwarded" "$(hdr x-e2e)" "kept"
cl -o /dev/null -D "$resp" -H 'x-request-id: bad id"<script>' "$HTTP_URL/v1/models"
id=$(hdr x-request-id)
is "x-request-id: an id that is not a token is replaced by a generated one, at the backend and in the response" \
	"$(grep -Eqx '[0-9a-f]{32}' <<<"$id" && echo hex) $(sed -n 's/^x-request-id: \([^\r]*\)\r$/\1/Ip' "$resp")" "hex $id"

# model_map: gpt-4o is rewritten for backend2, gpt-4o-mini is not in the map
m2() { mstat backend2 $M ".last_request$1"; }
cl -o /dev/null -H 'content-type: application/json' \
	-d '{"model":"gpt-4o","messages":[{"role":"user","content":"map me"}],"temperature":0.5}' "$TLS_URL/v1/chat/completions"
is "model_map: gpt-4o reaches the backend as llama-3-70b" "$(m2 .body | jq -r .model)" "llama-3-70b"
is "model_map: the rest of the body is unchanged" "$(m2 .body | jq -c '[.messages, .temperature]')" \
	'[[{"role":"user","content":"map me"}],0.5]'
is "model_map: content-length matches the rewritten body" "$(hdr content-length backend2)" "$(m2 .body_bytes)"
raw='{"model": "gpt-4o-mini",  "messages":[{"role":"user","content":"keep"}]}'
cl -o /dev/null -H 'content-type: application/json' -d "$raw" "$TLS_URL/v1/chat/completions"
is "model_map: an unmapped model's body is forwarded byte for byte" "$(m2 .body)" "$raw"

# A chunked request body arrives de-chunked with a content-length
head -c 70000 /dev/zero | tr '\0' 'z' | sed 's/^/{"model":"m1","input":"/; s/$/"}/' | tr -d '\n' >"$GW_TMP/big.json"
is "chunked upload: the client's request gets 200" \
	"$(cl -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' -H 'content-type: application/json' \
		--data-binary @"$GW_TMP/big.json" "$TLS_URL/v1/embeddings")" 200
is "chunked upload: the backend gets content-length and no transfer-encoding" \
	"$(hdr content-length)/$(hdr transfer-encoding)" "$(stat -c %s "$GW_TMP/big.json")/"
is "chunked upload: the body arrives whole ($(stat -c %s "$GW_TMP/big.json") bytes, sha256)" \
	"$(last .body | head -c -1 | sha256sum)" "$(sha256sum <"$GW_TMP/big.json")"

# Keep-alive: five requests, one client connection, at most one new upstream connection
a0=$(mstat backend1 $M .connections.accepted)
got=$(cl -w '%{num_connects}:%{http_code} ' -o /dev/null -o /dev/null -o /dev/null -o /dev/null -o /dev/null \
	"$TLS_URL/v1/models" "$TLS_URL/v1/models" "$TLS_URL/v1/models" "$TLS_URL/v1/models" "$TLS_URL/v1/models")
is "keep-alive: five requests over one TLS connection" "$got" "1:200 0:200 0:200 0:200 0:200 "
between "keep-alive: the five requests open at most one upstream connection" \
	$(($(mstat backend1 $M .connections.accepted) - a0)) 0 1
# The head and the body go out in separate writes: without TCP_NODELAY the
# body waits for the client's delayed ACK (40 ms) on a kept-alive connection
for u in "$HTTP_URL" "$TLS_URL"; do
	ms=$(cl -w '%{time_total}\n' -o /dev/null -o /dev/null -o /dev/null -o /dev/null -o /dev/null \
		"$u/v1/models" "$u/v1/models" "$u/v1/models" "$u/v1/models" "$u/v1/models" |
		sort -n | awk 'NR == 3 {printf "%d", $1 * 1000}')
	between "keep-alive: a proxied request on a reused ${u%%:*} connection takes under 20 ms (median ms of 5)" "$ms" 0 20
done

# --- Errors in the API's own shape ---
t1=$(mstat backend1 $M .requests.total)
t2=$(mstat backend2 $M .requests.total)
err=$(cl -D "$resp" -w '\n%{http_code}' -H 'x-request-id: e2e-no-route' "$TLS_URL/nothing/here")
is "no route: 404, with the request's id" "$(tail -n 1 <<<"$err") $(sed -n 's/^x-request-id: \([^\r]*\)\r$/\1/Ip' "$resp")" \
	"404 e2e-no-route"
is "no route: OpenAI error shape {error:{message,type,code,param}}" \
	"$(head -n 1 <<<"$err" | jq -c '[(.error | keys), .error.type, .error.code, .error.param, (.error.message | test("no route"))]')" \
	'[["code","message","param","type"],"invalid_request_error","unknown_url",null,true]'
err=$(cl -w '\n%{http_code}' "$TLS_URL/v1/refused")
is "refuse route: 404 in OpenAI shape" "$(tail -n 1 <<<"$err") $(head -n 1 <<<"$err" | jq -r .error.code)" "404 unknown_url"
err=$(cl -w '\n%{http_code}' -H 'content-type: application/json' -d '{"model":"m1","messages":[' "$TLS_URL/v1/chat/completions")
is "invalid JSON: 400" "$(tail -n 1 <<<"$err")" 400
is "invalid JSON: OpenAI error shape" \
	"$(head -n 1 <<<"$err" | jq -c '[(.error | keys), .error.type, .error.code]')" \
	'[["code","message","param","type"],"invalid_request_error","invalid_json"]'
err=$(cl -w '\n%{http_code}' -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' \
	-d '{"model":"claude","max_tokens":' "$TLS_URL/v1/messages")
is "invalid JSON on /v1/messages: 400 in Anthropic shape {type:error,error:{type,message}}" \
	"$(tail -n 1 <<<"$err") $(head -n 1 <<<"$err" | jq -c '[.type, (.error | keys), .error.type]')" \
	'400 ["error",["message","type"],"invalid_request_error"]'
is "errors: none of these requests reached a backend" \
	"$(mstat backend1 $M .requests.total) $(mstat backend2 $M .requests.total)" "$t1 $t2"

# --- RFC 9112 framing: refused at the edge, nothing smuggled through ---
# raw REQUEST: sends it over plain HTTP, prints the status line of every
# response that came back ("|" between them): a refusal must be the only one.
# The client keeps its side open a while: sluiced reads a half-close while a
# request is upstream as the client leaving, and aborts it.
raw() {
	{ printf "$1"; sleep 0.5; } | ip netns exec "$(lab_ns client)" timeout 5 socat -t 0.2 - "TCP:$GW_V4:$GW_HTTP" |
		grep -a '^HTTP/1' | tr -d '\r' | paste -sd '|'
}
smuggled='POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\n\r\n{"input":"s"}'
body0="0\r\n\r\n$smuggled"
t1=$(mstat backend1 $M .requests.total)
is "Transfer-Encoding with Content-Length: 400" \
	"$(raw "POST /v1/embeddings HTTP/1.1\r\nHost: api.test\r\nContent-Length: ${#body0}\r\nTransfer-Encoding: chunked\r\n\r\n$body0")" \
	"HTTP/1.1 400 Bad Request"
is "Content-Length then Transfer-Encoding: 400" \
	"$(raw "POST /v1/embeddings HTTP/1.1\r\nHost: api.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n$body0")" \
	"HTTP/1.1 400 Bad Request"
is "two Content-Lengths: 400" \
	"$(raw "POST /v1/embeddings HTTP/1.1\r\nHost: api.test\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n{}{}{")" \
	"HTTP/1.1 400 Bad Request"
is "chunked not last (chunked, identity): 400" \
	"$(raw "POST /v1/embeddings HTTP/1.1\r\nHost: api.test\r\nTransfer-Encoding: chunked, identity\r\n\r\n$body0")" \
	"HTTP/1.1 400 Bad Request"
is "unknown transfer coding (gzip, chunked): 501" \
	"$(raw "POST /v1/embeddings HTTP/1.1\r\nHost: api.test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n$body0")" \
	"HTTP/1.1 501 Not Implemented"
is "obs-fold: 400" \
	"$(raw "GET /v1/models HTTP/1.1\r\nHost: api.test\r\nx-a: 1\r\n folded\r\n\r\n")" "HTTP/1.1 400 Bad Request"
is "white space before the colon: 400" \
	"$(raw "GET /v1/models HTTP/1.1\r\nHost: api.test\r\nContent-Length : 0\r\n\r\n")" "HTTP/1.1 400 Bad Request"
is "framing refusals: the mock's request count did not move (nothing smuggled)" \
	"$(mstat backend1 $M .requests.total)" "$t1"
is "the same request framed right reaches the mock once" \
	"$(raw "$smuggled") $(($(mstat backend1 $M .requests.total) - t1))" "HTTP/1.1 200 OK 1"
is "absolute-form target (RFC 9112 3.2.2: a server MUST accept it) is routed by its path" \
	"$(raw "GET http://api.test/v1/models HTTP/1.1\r\nHost: api.test\r\n\r\n") $(mstat backend1 $M .last_request.target)" \
	"HTTP/1.1 200 OK /v1/models"
