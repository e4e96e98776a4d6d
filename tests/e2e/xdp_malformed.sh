#!/usr/bin/env bash
# Malformed frames through the veth: truncated and bogus headers at every
# layer (bad IHL and IPv4 total length, IPv6 cut short or with too many
# extension headers, TCP data offset below 5, a TCP header cut inside) sent
# raw from the attacker are each dropped and counted under "malformed",
# exactly; IPv4 fragments of a blocklisted source are dropped under
# "block", the first and the later ones alike; and through it all the
# gateway serves the client.
set -u
. "$(dirname "$0")/lib.sh"

e2e_start xdp_malformed 90
e2e_attach
lab_http_server gw 8080 >/dev/null || { not_ok "http server in the gateway"; exit 1; }
GW_MAC=$(ip -n "$(lab_ns gw)" -j link show "$GA" | jq -r '.[0].address')
SRC_MAC=$(ip -n "$(lab_ns attacker)" -j link show gw0 | jq -r '.[0].address')

# send KIND...: the attacker writes each crafted frame once to gw0 (AF_PACKET)
cat >"$LAB_STATE/frames.py" <<'EOF'
import socket, struct, sys
dst, src = bytes.fromhex(sys.argv[1].replace(":", "")), bytes.fromhex(sys.argv[2].replace(":", ""))
S4, D4 = socket.inet_aton("198.18.2.2"), socket.inet_aton("198.18.2.1")
S6, D6 = socket.inet_pton(socket.AF_INET6, "2001:db8:2::2"), socket.inet_pton(socket.AF_INET6, "2001:db8:2::1")

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    return ~(s + (s >> 16)) & 0xFFFF

def ip4(payload, proto=6, ihl=5, ver=4, tot=None, frag=0):
    opts = b"\x01" * (4 * ihl - 20) if ihl > 5 else b""
    h = struct.pack("!BBHHHBBH4s4s", ver << 4 | (ihl & 15), 0,
                    tot if tot is not None else 20 + len(opts) + len(payload),
                    1, frag, 64, proto, 0, S4, D4) + opts
    return h[:10] + struct.pack("!H", csum(h[:20])) + h[12:] + payload

def ip6(payload, nh=6):
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), nh, 64, S6, D6) + payload

def tcp(doff=5, flags=0x02):
    return struct.pack("!HHIIBBHHH", 40000, 8080, 1, 0, doff << 4, flags, 65535, 0, 0)

def eth(t, b):
    return dst + src + struct.pack("!H", t) + b

def dstopts(nh):
    return struct.pack("!BB6s", nh, 0, b"\1\4\0\0\0\0")

# nine destination-options headers: more than the program walks
nine = b""
for i in range(9):
    nine += dstopts(60 if i < 8 else 6)
frames = {
    "ihl_4": eth(0x0800, ip4(tcp(), ihl=4)),
    "ihl_0": eth(0x0800, ip4(tcp(), ihl=0)),
    "version_6_in_v4": eth(0x0800, ip4(tcp(), ver=6)),
    "tot_len_under_ihl": eth(0x0800, ip4(tcp(), tot=19)),
    "ipv4_cut_at_19": eth(0x0800, ip4(tcp())[:19]),
    "ipv4_options_cut": eth(0x0800, ip4(tcp(), ihl=8)[:28]),
    "tcp_doff_4": eth(0x0800, ip4(tcp(doff=4))),
    "tcp_cut_at_12": eth(0x0800, ip4(tcp())[:32]),
    "ipv6_cut_at_39": eth(0x86DD, ip6(tcp())[:39]),
    "ipv6_nine_ext": eth(0x86DD, ip6(nine + tcp(), nh=60)),
    "ipv6_tcp_doff_0": eth(0x86DD, ip6(tcp(doff=0))),
    # a first fragment (MF) and a later one (offset 8 bytes): no ports in the later
    "frag_first": eth(0x0800, ip4(tcp(), frag=0x2000)),
    "frag_later": eth(0x0800, ip4(b"x" * 16, frag=1)),
    "syn": eth(0x0800, ip4(tcp())),
    "syn6": eth(0x86DD, ip6(tcp())),
}
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("gw0", 0))
for k in sys.argv[3:]:
    s.send(frames[k])
EOF
send() { lab_exec attacker python3 "$LAB_STATE/frames.py" "$GW_MAC" "$SRC_MAC" "$@"; }

# the gateway's answers may draw ARP/ND replies from the attacker: pass, at least 2
p0=$(counter "$GA" pass)
m0=$(counter "$GA" malformed)
send syn syn6
is "control: the same frames well formed (a v4 and a v6 SYN) pass, none is malformed" \
	"$(($(counter "$GA" pass) - p0 >= 2)) $(($(counter "$GA" malformed) - m0))" "1 0"
BAD="ihl_4 ihl_0 version_6_in_v4 tot_len_under_ihl ipv4_cut_at_19 ipv4_options_cut tcp_doff_4
 tcp_cut_at_12 ipv6_cut_at_39 ipv6_nine_ext ipv6_tcp_doff_0"
ok_if "the client connects before" connects client http://198.18.1.1:8080/
for k in $BAD; do
	m0=$(counter "$GA" malformed)
	send "$k" || not_ok "$k: sent" "python3 failed"
	is "$k: dropped and counted under malformed, once" "$(($(counter "$GA" malformed) - m0))" 1
done
# a burst of all of them, ten times over
m0=$(counter "$GA" malformed)
n=0
for _ in $(seq 10); do
	# shellcheck disable=SC2086 # one word per frame
	send $BAD
	n=$((n + $(wc -w <<<"$BAD")))
done
is "a burst of $n malformed frames: each counted" "$(($(counter "$GA" malformed) - m0))" "$n"
ok_if "the attacker's well-formed traffic still reaches the gateway" connects attacker http://198.18.2.1:8080/

# fragments of a blocklisted source: every one dropped under block
ctl block add 198.18.2.2 reason e2e >/dev/null
b0=$(counter "$GA" block)
send frag_first frag_later
is "a blocklisted source's first and later fragments: both dropped under block" \
	"$(($(counter "$GA" block) - b0))" 2
ctl block del 198.18.2.2 >/dev/null
p0=$(counter "$GA" pass)
b0=$(counter "$GA" block)
send frag_later
is "unblocked, a later fragment (no ports to judge) passes" \
	"$(($(counter "$GA" pass) - p0 >= 1)) $(($(counter "$GA" block) - b0))" "1 0"
ok_if "through it all the client is served" connects client http://198.18.1.1:8080/
