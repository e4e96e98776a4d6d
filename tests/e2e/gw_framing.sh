#!/usr/bin/env bash
# HTTP/1.1 framing (RFC 9112) at sluiced's plain listener, sent as raw
# bytes: every message whose length or meaning two parsers could read
# differently is refused with its status, in the API's error shape, and the
# connection closed after it; nothing refused, and nothing hidden in a body
# or after a refusal, ever reaches the backend (the mock's request count).
set -u
. "$(dirname "$0")/gw_lib.sh"

gw_start framing 90
M=9000
gw_mock backend1 $M --echo >/dev/null || { not_ok "mock on backend1"; exit 1; }
B1=$(gw_host backend1)
cat >"$GW_CFG" <<EOF
{
  "workers": 2,
$(gw_listeners),
  "http": { "max_headers": 64 },
  "pools": { "echo": { "backends": [ { "url": "http://$B1:$M" } ] } },
  "routes": [ { "name": "v1", "match": { "path": "/v1/" }, "pool": "echo" } ]
}
EOF
gw_sluiced "$GW_CFG" || exit 1

# raw.py, one process for the whole test (python starts slowly): for each
# line "N BASE64" on its stdin, sends the bytes in one write on a new
# connection and reads until the gateway closes, 3 s pass, or 0.3 s pass
# after N complete responses; prints each response as STATUS/CONNECTION
# and then "eof", "reset" or "open", and writes the last body to argv[3].
# It never half-closes: sluiced takes a FIN while a request is upstream as
# the client leaving.
cat >"$GW_TMP/raw.py" <<'EOF'
import base64, socket, sys, time

def responses(b):
    out = []
    while b:
        h = b.find(b"\r\n\r\n")
        if h < 0:
            return out, False
        lines = b[:h].decode("latin-1").split("\r\n")
        hdr = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            hdr[k.strip().lower()] = v.strip()
        st, body, rest = int(lines[0].split()[1]), b"", b[h + 4:]
        if hdr.get("transfer-encoding", "").lower() == "chunked":
            while True:
                e = rest.find(b"\r\n")
                if e < 0:
                    return out, False
                n = int(rest[:e].split(b";")[0], 16)
                if len(rest) < e + 4 + n:
                    return out, False
                body, rest = body + rest[e + 2:e + 2 + n], rest[e + 4 + n:]
                if not n:
                    break
        elif not 100 <= st < 200:
            n = int(hdr.get("content-length", "0"))
            if len(rest) < n:
                return out, False
            body, rest = rest[:n], rest[n:]
        out.append((st, hdr.get("connection", "-"), body))
        b = rest
    return out, True

def run(want, data):
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
    s.sendall(data)
    buf, end, how = b"", time.time() + 3, "open"
    while time.time() < end:
        rs, whole = responses(buf)
        done = whole and len(rs) >= want
        s.settimeout(0.3 if done else max(0.05, end - time.time()))
        try:
            d = s.recv(65536)
        except socket.timeout:
            if done:
                break
            continue
        except ConnectionResetError:
            how = "reset"
            break
        if not d:
            how = "eof"
            break
        buf += d
    s.close()
    rs = responses(buf)[0]
    with open(sys.argv[3], "wb") as f:
        f.write(rs[-1][2] if rs else b"")
    return " ".join(["%d/%s" % (r[0], r[1]) for r in rs] + [how])

for line in sys.stdin:
    n, b = line.split()
    try:
        print(run(int(n), base64.b64decode(b)), flush=True)
    except OSError as e:
        print("error:", e, flush=True)
EOF
BODY=$GW_TMP/raw.body
mkfifo "$GW_TMP/raw.in" "$GW_TMP/raw.out"
ip netns exec "$(lab_ns client)" python3 "$GW_TMP/raw.py" "$GW_V4" "$GW_HTTP" "$BODY" \
	<"$GW_TMP/raw.in" >"$GW_TMP/raw.out" &
GW_PIDS+=($!)
exec 3>"$GW_TMP/raw.in" 4<"$GW_TMP/raw.out"

# raw BYTES [N]: BYTES (printf %b escapes: \r \n \xHH) sent to the plain
# listener, N (1) responses awaited; prints what raw.py says
raw() {
	local out
	printf '%s %s\n' "${2:-1}" "$(printf '%b' "$1" | base64 -w0)" >&3
	read -r -t 10 out <&4 || out="no answer from raw.py"
	echo "$out"
}
# every request the mock took, and those its own parser refused
count() { mstat backend1 $M '.requests.total + .requests.bad'; }

# refused NAME STATUS BYTES [WHY]: BYTES get STATUS and a close, in the
# OpenAI error shape whose message says WHY, and the backend sees nothing.
refused() {
	local name=$1 status=$2 req=$3 why=${4:-} n0 got
	n0=$(count)
	got=$(raw "$req")
	is "$name: $status and the connection closed" "$got" "$status/close eof"
	if [ -n "$why" ]; then
		is "$name: the error names it" \
			"$(jq -c '[(.error | keys), .error.type, .error.message]' "$BODY" 2>&1)" \
			"[[\"code\",\"message\",\"param\",\"type\"],\"invalid_request_error\",\"$why\"]"
	fi
	is "$name: the backend saw nothing" "$(($(count) - n0))" 0
}

# passed NAME BYTES [N]: BYTES get N (1) 200s on a kept-alive connection; the backend saw N.
passed() {
	local name=$1 req=$2 want=${3:-1} n0 got
	n0=$(count)
	got=$(raw "$req" "$want")
	is "$name: $want x 200, kept alive" "$got" "$(printf '200/keep-alive %.0s' $(seq "$want"))open"
	is "$name: the backend saw $want" "$(($(count) - n0))" "$want"
}

GET='GET /v1/models HTTP/1.1\r\nHost: api.test\r\n'
POST='POST /v1/embeddings HTTP/1.1\r\nHost: api.test\r\ncontent-type: application/json\r\n'
CH="$POST"'Transfer-Encoding: chunked\r\n\r\n'
B='{"input":"hello"}'
# a whole second request, for hiding in bodies and after refusals
SMUG='GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n'
bad="malformed request"

# --- control: the counting works ---
passed "a valid GET" "$GET\r\n"
passed "two valid requests in one write (pipelined)" "$GET\r\n$POST""Content-Length: ${#B}\r\n\r\n$B" 2
passed "an HTTP/1.0 request" 'GET /v1/models HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'
passed "empty lines before the request line (RFC 9112 2.2)" "\r\n\r\n$GET\r\n"

# --- Content-Length ---
refused "Transfer-Encoding with Content-Length" 400 \
	"$POST""Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n$SMUG" \
	"$bad: Transfer-Encoding with Content-Length"
refused "Content-Length before Transfer-Encoding" 400 \
	"$POST""Content-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n$SMUG" \
	"$bad: Transfer-Encoding with Content-Length"
# RFC 9110 8.6 allows taking identical values as one; sluiced refuses any
# second Content-Length (a sender that repeats itself is broken or probing)
refused "two identical Content-Lengths" 400 "$POST""Content-Length: 5\r\nContent-Length: 5\r\n\r\n{}{}{" \
	"$bad: more than one Content-Length"
refused "conflicting Content-Lengths (5, 6)" 400 "$POST""Content-Length: 5\r\nContent-Length: 6\r\n\r\n{}{}{}" \
	"$bad: more than one Content-Length"
refused "a Content-Length list \"5, 6\"" 400 "$POST""Content-Length: 5, 6\r\n\r\n{}{}{}" \
	"$bad: invalid Content-Length"
refused "Content-Length: +5" 400 "$POST""Content-Length: +5\r\n\r\n{}{}{" "$bad: invalid Content-Length"
refused "Content-Length: -5" 400 "$POST""Content-Length: -5\r\n\r\n{}{}{" "$bad: invalid Content-Length"
refused "Content-Length: 0x5" 400 "$POST""Content-Length: 0x5\r\n\r\n{}{}{" "$bad: invalid Content-Length"
refused "Content-Length: 5a" 400 "$POST""Content-Length: 5a\r\n\r\n{}{}{" "$bad: invalid Content-Length"
refused "Content-Length past 2^64" 400 "$POST""Content-Length: 99999999999999999999999\r\n\r\n{}" \
	"$bad: invalid Content-Length"
passed "Content-Length with OWS around the value (trimmed)" "$POST""Content-Length: \t ${#B} \t\r\n\r\n$B"
# the body is exactly Content-Length bytes: what follows is the next request
passed "a request right after a Content-Length body" "$POST""Content-Length: ${#B}\r\n\r\n$B$GET\r\n" 2

# a refused head is answered in the shape of the API its request line named
n0=$(count)
got=$(raw 'POST /v1/messages HTTP/1.1\r\nHost: a\r\nanthropic-version: 2023-06-01\r\nContent-Length: +5\r\n\r\n{}{}{')
is "a refusal on /v1/messages: 400, closed, in Anthropic's shape" \
	"$got $(jq -c '[.type, (.error | keys), .error.type, .error.message]' "$BODY" 2>&1) $(($(count) - n0))" \
	'400/close eof ["error",["message","type"],"invalid_request_error","malformed request: invalid Content-Length"] 0'

# --- Transfer-Encoding ---
refused "Transfer-Encoding: gzip, chunked (a coding sluiced does not implement)" 501 \
	"$POST""Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" "$bad: transfer coding not implemented"
# RFC 9112 6.3 rule 4: chunked not final in a request MUST be a 400 (this
# wins over 6.1's SHOULD 501 for an unknown coding): the length is unknowable
refused "Transfer-Encoding: chunked, gzip (chunked not last)" 400 \
	"$POST""Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n$SMUG" "$bad: chunked is not the final transfer coding"
refused "Transfer-Encoding: identity" 400 "$POST""Transfer-Encoding: identity\r\n\r\n$SMUG" \
	"$bad: chunked is not the final transfer coding"
refused "Transfer-Encoding: foo" 400 "$POST""Transfer-Encoding: foo\r\n\r\n$SMUG" \
	"$bad: chunked is not the final transfer coding"
refused "Transfer-Encoding: chunked in two field lines" 400 \
	"$POST""Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" \
	"$bad: chunked applied more than once"
refused "Transfer-Encoding in an HTTP/1.0 request" 400 \
	'POST /v1/embeddings HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' "$bad: Transfer-Encoding in HTTP/1.0"
passed "Transfer-Encoding: Chunked (codings are case-insensitive)" \
	"$POST""Transfer-Encoding:  Chunked \r\n\r\n$(printf %x ${#B})\r\n$B\r\n0\r\n\r\n"

# --- chunked bodies ---
refused "a chunk size past 64 bits" 400 "$CH""ffffffffffffffffff\r\nx\r\n0\r\n\r\n" "$bad: chunk size overflow"
refused "a chunk size that is not hex" 400 "$CH""5g\r\nhello\r\n0\r\n\r\n" "$bad: invalid chunk size"
refused "a chunk size with white space and no extension" 400 "$CH""5 \r\nhello\r\n0\r\n\r\n" \
	"$bad: invalid chunk extension"
passed "chunk extensions (5;foo=bar, quoted, on the last chunk)" \
	"$CH""$(printf %x ${#B});foo=bar;q=\"a b\"\r\n$B\r\n0;last\r\n\r\n"
refused "a chunk extension past 256 bytes" 400 \
	"$CH""1;x=$(head -c 300 /dev/zero | tr '\0' a)\r\nx\r\n0\r\n\r\n" "$bad: chunk extension too long"
refused "no CRLF after chunk data" 400 "$CH""5\r\nhelloX\r\n0\r\n\r\n" "$bad: no CRLF after chunk data"
# RFC 9112 2.2 and 7.1: a recipient MAY take a bare LF as a line end; sluiced
# never does, so no two readers can disagree on where a chunk starts
refused "a bare LF after a chunk size" 400 "$CH""5\nhello\r\n0\r\n\r\n" "$bad: bare LF in chunk size line"
refused "a bare LF after chunk data" 400 "$CH""5\r\nhello\n0\r\n\r\n" "$bad: no CRLF after chunk data"
refused "a bare CR after a chunk size" 400 "$CH""5\rhello\r\n0\r\n\r\n" "$bad: bare CR in chunk size line"
refused "obs-fold in a trailer" 400 "$CH""0\r\nx-t: 1\r\n 2\r\n\r\n" "$bad: obs-fold in trailers"
passed "a trailer field (read, then dropped)" "$CH""$(printf %x ${#B})\r\n$B\r\n0\r\nx-t: 1\r\n\r\n"
# a whole request as chunk data is body, delivered as it came, never a
# request (a GET, which the mock answers whatever its body)
n0=$(count)
got=$(raw "GET /v1/models?smuggle HTTP/1.1\r\nHost: api.test\r\nTransfer-Encoding: chunked\r\n\r\n$(printf '%b' "$SMUG" | wc -c | xargs printf %x)\r\n$SMUG\r\n0\r\n\r\n")
is "a request inside chunk data: one 200" "$got" "200/keep-alive open"
is "a request inside chunk data: the backend saw one request, the other as its body" \
	"$(($(count) - n0)) $(mstat backend1 $M '[.last_request.target, .last_request.body == "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"] | join(" ")')" \
	"1 /v1/models?smuggle true"

# --- field lines ---
refused "a bare CR in a field line" 400 "$GET""x-a: 1\rx-b: 2\r\n\r\n" "$bad: bare CR in head"
# RFC 9112 2.2 MAY take a bare LF; sluiced refuses it (as above)
refused "a bare LF ending a field line" 400 "$GET""x-a: 1\n\r\n" "$bad: bare LF in head"
refused "obs-fold (RFC 9112 5.2: 400 in a request)" 400 "$GET""x-a: 1\r\n folded\r\n\r\n" \
	"$bad: obs-fold or white space before a field line"
refused "white space before the colon (RFC 9112 5.1)" 400 'GET /v1/models HTTP/1.1\r\nHost : api.test\r\n\r\n' \
	"$bad: white space before colon"
refused "a field name with a non-token byte" 400 "$GET""x(a): 1\r\n\r\n" "$bad: invalid character in field name"
refused "a NUL in a field value" 400 "$GET""x-a: 1\x002\r\n\r\n" "$bad: NUL in head"
refused "no Host in HTTP/1.1" 400 'GET /v1/models HTTP/1.1\r\nx-a: 1\r\n\r\n' "$bad: no Host in HTTP/1.1 request"
refused "two Hosts" 400 "$GET""Host: other.test\r\n\r\n" "$bad: more than one Host"
refused "a Host that is no uri-host" 400 'GET /v1/models HTTP/1.1\r\nHost: a b\r\n\r\n' "$bad: invalid Host"
# RFC 9112 3.2.2: the target's authority wins over Host; sluiced routes by the
# path and sends the backend its own Host, so neither value travels
n0=$(count)
got=$(raw 'GET http://api.test/v1/models HTTP/1.1\r\nHost: other.test\r\n\r\n')
is "absolute-form with another Host: 200, routed by its path, the backend's own Host" \
	"$got $(($(count) - n0)) $(mstat backend1 $M '[.last_request.target, (.last_request.headers[] | select(.[0] == "host") | .[1])] | join(" ")')" \
	"200/keep-alive open 1 /v1/models $B1:$M"

# --- bounds (the defaults, 8 KiB request line and 16 KiB head; max_headers 64) ---
refused "a request line past 8 KiB" 414 "GET /v1/models?q=$(head -c 8200 /dev/zero | tr '\0' a) HTTP/1.1\r\nHost: a\r\n\r\n" \
	"$bad: start line too long"
refused "a head past 16 KiB" 431 "$GET""x-a: $(head -c 17000 /dev/zero | tr '\0' a)\r\n\r\n" \
	"$bad: header section too large"
fields() { for i in $(seq "$1"); do printf 'x-h%d: %d\\r\\n' "$i" "$i"; done; }
refused "65 field lines (max_headers 64)" 431 "$GET$(fields 64)\r\n" "$bad: too many header fields"
passed "64 field lines (max_headers 64)" "$GET$(fields 63)\r\n"

# --- request line ---
refused "a NUL in the request line" 400 'GET /v1/mo\x00dels HTTP/1.1\r\nHost: a\r\n\r\n' "$bad: NUL in head"
refused "a space inside the method (GE T)" 400 'GE T /v1/models HTTP/1.1\r\nHost: a\r\n\r\n' \
	"$bad: malformed HTTP version"
refused "a method that is no token (G,ET)" 400 'G,ET /v1/models HTTP/1.1\r\nHost: a\r\n\r\n' "$bad: invalid method"
refused "HTTP/1.2" 505 'GET /v1/models HTTP/1.2\r\nHost: a\r\n\r\n' "$bad: HTTP version not supported"
refused "HTTP/2.0 in an HTTP/1 request line" 505 'GET /v1/models HTTP/2.0\r\nHost: a\r\n\r\n' \
	"$bad: HTTP version not supported"
refused "HTTP/1 (no minor)" 400 'GET /v1/models HTTP/1\r\nHost: a\r\n\r\n' "$bad: malformed HTTP version"
refused "a garbage version" 400 'GET /v1/models FOO/1.1\r\nHost: a\r\n\r\n' "$bad: malformed HTTP version"
refused "a garbage request line" 400 'hello\r\n\r\n' "$bad: invalid method"

# --- methods: case-sensitive (RFC 9110 9.1); one sluiced does not know is 501 ---
refused "get (lowercase: not GET)" 501 'get /v1/models HTTP/1.1\r\nHost: a\r\n\r\n' "method get is not implemented"
refused "an unknown method (BREW), its body unread" 501 "BREW /v1/models HTTP/1.1\r\nHost: a\r\nContent-Length: 36\r\n\r\n$SMUG" \
	"method BREW is not implemented"
refused "CONNECT (no tunnels here)" 501 "CONNECT $B1:$M HTTP/1.1\r\nHost: $B1:$M\r\n\r\n" \
	"method CONNECT is not implemented"

# --- after a refusal the connection is gone: nothing after it is read ---
refused "a valid request pipelined after a bad one" 400 'bad request\r\n\r\n'"$GET\r\n" \
	"$bad: no HTTP version in request line"
refused "a valid request pipelined after a refused body" 400 "$CH""zz\r\n\r\n$GET\r\n" "$bad: invalid chunk size"

ok_if "sluiced is still running" kill -0 "$SLUICED_PID"
ok_if "sluiced's log has no sanitizer report" \
	eval "! grep -Eq 'AddressSanitizer|UndefinedBehaviorSanitizer|runtime error' '$GW_LOG'"
