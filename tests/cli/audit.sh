#!/usr/bin/env bash
# sluicectl audit: verify finds each kind of break at its line, tolerates a
# torn final line only; the query filters pick the right records, in text
# and -j. TAP output. Needs no root: only files in a temp dir.
#
# The chains are built here with sha256sum, from the format as documented
# (user/gw/audit.h, sluicectl(8)), not with sluiced's writer: a second
# implementation, so that both have to agree on the format.
set -u
# shellcheck source=tests/cli/lib.sh
. "$(dirname "$0")/lib.sh"
unset SLUICE_AUDIT
ZEROS=0000000000000000000000000000000000000000000000000000000000000000

# chain_start FILE [PREV [SEQ]]: records appended by add go to FILE, the
# first linking to PREV (default zeros) with seq SEQ+1 (default 1).
chain_start() {
	f=$1
	prev=${2:-$ZEROS}
	seq=${3:-0}
	: >"$f"
}

# add MEMBERS: one record, hashed over everything before ,"hash":.
add() {
	local head
	seq=$((seq + 1))
	head="{\"seq\":$seq,$1,\"prev\":\"$prev\""
	prev=$(printf '%s' "$head" | sha256sum | cut -c1-64)
	printf '%s,"hash":"%s"}\n' "$head" "$prev" >>"$f"
}

# rec TS ID SESSION KEY TENANT IP MODEL DECISION STATUS REASONS: the members
# sluiced writes. SESSION, KEY, TENANT: null or a bare word (quoted here).
jstr() { if [ "$1" = null ]; then echo null; else echo "\"$1\""; fi; }
rec() {
	local s k t
	s=$(jstr "$3") k=$(jstr "$4") t=$(jstr "$5")
	printf '"ts":"%s","id":"%s","session":%s,"origin":{"key":%s,"tenant":%s,"ip":"%s"},' \
		"$1" "$2" "$s" "$k" "$t" "$6"
	printf '"route":"chat","model":"%s","pool":"cloud","backend":"127.0.0.1:9000",' "$7"
	printf '"decision":"%s","reasons":%s,"changes":{},' "$8" "${10}"
	printf '"tokens":{"prompt":12,"completion":30,"estimated":true},"status":%s,' "$9"
	printf '"latency_ms":12.3,"ttft_ms":3.2,"prompt_hash":"ab12"'
}

ago() { date -u -d "-$1" +%Y-%m-%dT%H:%M:%S.000Z; }
# r1-r4 are a month old, r5 and r6 recent: since with a duration tells them apart
day=$(date -u -d '-30 days' +%Y-%m-%d)

PII2='[{"rule":"mask-pii","action":"mask","monitor":false,"detectors":{"email":2}}]'
PII1='{"rule":"mask-pii","action":"mask","monitor":false,"detectors":{"email":1}}'
SECRET='{"rule":"deny-secrets","action":"block","monitor":false,"detectors":{"aws_key":1}}'
RATE='[{"rule":"rate-tenant","action":"throttle","monitor":false,"detectors":{}}]'
PHONE='[{"rule":"mask-pii","action":"mask","monitor":false,"detectors":{"phone":1}}]'

good=$tmp/good.jsonl
chain_start "$good"
add "$(rec "${day}T03:00:00.000Z" r1 s1 k1 t1 198.18.0.2 gpt-4o allowed 200 '[]')"
add "$(rec "${day}T03:10:00.000Z" r2 s1 null null 198.18.0.3 gpt-4o modified 200 "$PII2")"
add "$(rec "${day}T03:20:00.000Z" r3 null k2 t2 198.18.0.4 gpt-4o blocked 403 "[$SECRET,$PII1]")"
add "$(rec "${day}T03:30:00.000Z" r4 s2 k1 t1 198.18.0.2 llama3 throttled 429 "$RATE")"
add "$(rec "$(ago 2hours)" r5 s2 null null 198.18.0.3 'evil\u001b[2J' allowed 200 '[]')"
add "$(rec "$(ago 5minutes)" r6 s1 k1 t1 198.18.0.2 gpt-4o modified 200 "$PHONE")"
good_last=$prev

# ids TEXT|JSON: the request ids of the last run's output, space-separated
ids() {
	if [ "$1" = json ]; then
		jq -r '.[].id' "$tmp/out" 2>/dev/null | tr '\n' ' ' | sed 's/ $//'
	else
		awk 'NR > 1 { print $2 }' "$tmp/out" | tr '\n' ' ' | sed 's/ $//'
	fi
}

# --- verify ---

run audit verify "$good"
why=
[ $rc = 0 ] || because "exit $rc, want 0"
grep -qx "$good: 6 records ok, seq 1-6" "$tmp/out" || because "output: $(cat "$tmp/out")"
grep -q anchored "$tmp/out" && because "a chain from zeros is not anchored elsewhere"
report "verify: a valid chain passes with its count and seq range" "$why"

run -j audit verify "$good"
why=
[ $rc = 0 ] || because "exit $rc, want 0"
jq -e --arg h "$good_last" '.ok == true and .records == 6 and .first_seq == 1 and
	.last_seq == 6 and .error == null and .torn_bytes == 0 and .last_hash == $h and
	.anchor == "'$ZEROS'"' "$tmp/out" >/dev/null || because "JSON: $(cat "$tmp/out")"
report "verify -j: ok, counts, and the last hash the chain ends with" "$why"

# verify_broken NAME FILE LINE SEQ REASON: exit 1, the line, its seq and why, in text and -j.
verify_broken() {
	local name=$1 file=$2 line=$3 s=$4 reason=$5 want
	if [ -n "$s" ]; then
		want="$file: line $line (seq $s): $reason"
	else
		want="$file: line $line: $reason"
	fi
	run audit verify "$file"
	why=
	[ $rc = 1 ] || because "exit $rc, want 1"
	grep -qF -- "$want" "$tmp/out" || because "want '$want', got: $(cat "$tmp/out")"
	run -j audit verify "$file"
	[ $rc = 1 ] || because "-j exit $rc, want 1"
	jq -e --argjson l "$line" --arg r "$reason" --arg s "$s" '.ok == false and
		.error.line == $l and (.error.reason | startswith($r)) and
		(if $s == "" then .error.seq == null else .error.seq == ($s | tonumber) end)' \
		"$tmp/out" >/dev/null || because "-j: $(cat "$tmp/out")"
	report "$name" "$why"
}

sed '3s/"status":403/"status":200/' "$good" >"$tmp/edited.jsonl"
verify_broken "verify: an edited field is a hash mismatch at its line" \
	"$tmp/edited.jsonl" 3 3 "hash mismatch"

sed '3d' "$good" >"$tmp/deleted.jsonl"
verify_broken "verify: a deleted record breaks the link at the next line" \
	"$tmp/deleted.jsonl" 3 4 "does not link to the previous record (deleted or reordered?)"

{ sed -n 1,2p "$good"; sed -n 4p "$good"; sed -n 3p "$good"; sed -n '5,$p' "$good"; } \
	>"$tmp/swapped.jsonl"
verify_broken "verify: two swapped records break the link" \
	"$tmp/swapped.jsonl" 3 4 "does not link to the previous record"

sed '3s/^\(.\{60\}\).*/\1/' "$good" >"$tmp/tornmid.jsonl"
verify_broken "verify: a torn line in the middle is an error" "$tmp/tornmid.jsonl" 3 "" "not JSON"

chain_start "$tmp/jump.jsonl"
add '"n":1'
add '"n":2'
seq=3
add '"n":4'
verify_broken "verify: a seq that skips is reported with both numbers" \
	"$tmp/jump.jsonl" 3 4 "seq jumps from 2 to 4"

chain_start "$tmp/nohash.jsonl"
add '"n":1'
printf '{"seq":2,"n":2,"prev":"%s"}\n' "$prev" >>"$f"
verify_broken "verify: a record without hash names what is missing" \
	"$tmp/nohash.jsonl" 2 2 "missing or bad hash"

cp "$good" "$tmp/torn.jsonl"
printf '{"seq":7,"ts":"20' >>"$tmp/torn.jsonl"
run audit verify "$tmp/torn.jsonl"
why=
[ $rc = 0 ] || because "exit $rc, want 0"
grep -qx "$tmp/torn.jsonl: 6 records ok, seq 1-6" "$tmp/out" || because "output: $(cat "$tmp/out")"
grep -q 'final line torn (17 bytes), ignored' "$tmp/err" || because "no torn warning on stderr"
run -j audit verify "$tmp/torn.jsonl"
jq -e '.ok and .records == 6 and .torn_bytes == 17' "$tmp/out" >/dev/null ||
	because "-j: $(cat "$tmp/out")"
report "verify: a torn final line is a warning with its size, exit 0" "$why"

anchor=$(printf 'rotated' | sha256sum | cut -c1-64)
chain_start "$tmp/anchored.jsonl" "$anchor" 41
add '"n":42'
add '"n":43'
run audit verify "$tmp/anchored.jsonl"
why=
[ $rc = 0 ] || because "exit $rc, want 0"
grep -qx "$tmp/anchored.jsonl: 2 records ok, seq 42-43, anchored at ${anchor:0:16}" "$tmp/out" ||
	because "output: $(cat "$tmp/out")"
report "verify: a rotated file's first prev is reported as its anchor" "$why"

: >"$tmp/empty.jsonl"
run audit verify "$tmp/empty.jsonl"
why=
[ $rc = 0 ] || because "exit $rc, want 0"
grep -qx "$tmp/empty.jsonl: 0 records ok" "$tmp/out" || because "output: $(cat "$tmp/out")"
report "verify: an empty file is 0 records ok" "$why"

run audit verify "$tmp/nope.jsonl"
why=
[ $rc = 1 ] || because "exit $rc, want 1"
grep -qF "sluicectl: audit verify: $tmp/nope.jsonl: No such file or directory" "$tmp/err" ||
	because "message does not name the file and the errno"
report "verify: a missing file is exit 1 naming it" "$why"

# --- query ---

# query NAME WANT ARGS...: the ids of the matches, in the table and in -j.
query() {
	local name=$1 want=$2
	shift 2
	why=
	run audit file "$good" "$@"
	[ $rc = 0 ] || because "exit $rc, want 0"
	[ "$(ids text)" = "$want" ] || because "table ids '$(ids text)', want '$want'"
	run -j audit file "$good" "$@"
	[ $rc = 0 ] || because "-j exit $rc, want 0"
	[ "$(ids json)" = "$want" ] || because "-j ids '$(ids json)', want '$want'"
	report "query $name" "$why"
}

query "without filters: every record, oldest first" "r1 r2 r3 r4 r5 r6"
query "session" "r1 r2 r6" session s1
query "origin by key" "r1 r4 r6" origin k1
query "origin by tenant" "r3" origin t2
query "origin by ip" "r2 r5" origin 198.18.0.3
query "decision" "r2 r6" decision modified
query "rule, in any of the reasons" "r2 r3 r6" rule mask-pii
query "since an RFC 3339 time" "r3 r4 r5 r6" since "${day}T03:15:00Z"
query "since an RFC 3339 time with an offset" "r3 r4 r5 r6" since "${day}T04:15:00+01:00"
query "since a duration back from now" "r6" since 1h
query "since a longer duration" "r5 r6" since 3h
query "limit: the last N matches" "r5 r6" limit 2
query "filters together" "r2 r6" session s1 decision modified
query "filters together with a limit" "r6" session s1 limit 1
query "matching nothing" "" session nobody

run audit show file "$good" session s2
why=
[ "$(ids text)" = "r4 r5" ] || because "ids '$(ids text)', want 'r4 r5'"
report "query: 'audit show' is the explicit form" "$why"

run audit file "$good"
why=
header=$(head -1 "$tmp/out" | tr -s ' ')
[ "$header" = "TIME ID SESSION ORIGIN ROUTE MODEL DECISION STATUS REASONS" ] ||
	because "header: $header"
row() { awk -v id="$1" '$2 == id' "$tmp/out" | tr -s ' '; }
[ "$(row r1)" = "${day}T03:00:00.000Z r1 s1 k1 chat gpt-4o allowed 200 -" ] ||
	because "r1: $(row r1)"
[ "$(row r2)" = "${day}T03:10:00.000Z r2 s1 198.18.0.3 chat gpt-4o modified 200 mask-pii(email:2)" ] ||
	because "r2: $(row r2)"
[ "$(row r3)" = "${day}T03:20:00.000Z r3 - k2 chat gpt-4o blocked 403 deny-secrets(aws_key:1),mask-pii(email:1)" ] ||
	because "r3: $(row r3)"
[ "$(row r4 | awk '{print $NF}')" = rate-tenant ] || because "r4: $(row r4)"
grep -q $'\x1b' "$tmp/out" && because "an escape byte from a record reached the terminal"
row r5 | grep -qF 'evil?[2J' || because "r5: control byte not shown as '?': $(row r5)"
report "query: table columns, null as '-', reasons with detector counts, no control bytes" "$why"

run -j audit file "$good"
why=
for i in 1 3 5; do
	a=$(sed -n "${i}p" "$good" | jq -cS .)
	b=$(jq -cS ".[$((i - 1))]" "$tmp/out")
	[ "$a" = "$b" ] || because "record $i differs: $b"
done
report "query -j: the records as they are" "$why"

run audit file "$tmp/torn.jsonl"
why=
[ $rc = 0 ] || because "exit $rc, want 0"
[ "$(ids text)" = "r1 r2 r3 r4 r5 r6" ] || because "ids '$(ids text)'"
[ -s "$tmp/err" ] && because "a torn final line is not worth a message"
report "query: a torn final line is passed over" "$why"

SLUICE_AUDIT=$good run audit session s2
why=
[ $rc = 0 ] || because "exit $rc, want 0"
[ "$(ids text)" = "r4 r5" ] || because "ids '$(ids text)', want 'r4 r5'"
report "query: SLUICE_AUDIT is the default file" "$why"

run audit decision bogus file "$good"
why=
[ $rc = 2 ] || because "exit $rc, want 2"
grep -q "decision 'bogus'" "$tmp/err" || because "message does not name the value"
grep -q "allowed, modified, blocked, rerouted, throttled or error" "$tmp/err" ||
	because "message does not list the decisions"
report "query: a bad decision is a usage error naming it" "$why"

run audit file "$good" since yesterday
why=
[ $rc = 2 ] || because "exit $rc, want 2"
grep -q "since 'yesterday'" "$tmp/err" || because "message does not name the value"
report "query: a bad since is a usage error naming it" "$why"

run audit file "$good" session s1 session s2
why=
[ $rc = 2 ] || because "exit $rc, want 2"
grep -q "'session' given twice" "$tmp/err" || because "message: $(cat "$tmp/err")"
report "query: a filter given twice is a usage error" "$why"

run audit file "$tmp/nope.jsonl"
why=
[ $rc = 1 ] || because "exit $rc, want 1"
grep -qxF "sluicectl: audit: $tmp/nope.jsonl: No such file or directory" "$tmp/err" ||
	because "stderr: $(cat "$tmp/err")"
run -j audit file "$tmp/nope.jsonl"
jq -e '.error | contains("No such file or directory")' "$tmp/out" >/dev/null ||
	because "-j: $(cat "$tmp/out")"
report "query: a missing file is exit 1 naming it" "$why"

SLUICE_AUDIT=$tmp/nope.jsonl run audit
why=
[ $rc = 1 ] || because "exit $rc, want 1"
report "query: a missing SLUICE_AUDIT file is exit 1" "$why"

# --- sluicectl tokens: usage summed from the trail ---
# urec TS KEY TENANT MODEL BACKEND PROMPT COMPLETION CACHED ESTIMATED STATUS
urec() {
	local k t b
	k=$(jstr "$2") t=$(jstr "$3") b=$(jstr "$5")
	printf '{"ts":"%s","id":"u","session":null,"origin":{"key":%s,"tenant":%s,"ip":"198.18.0.9"},' "$1" "$k" "$t"
	printf '"route":"chat","model":"%s","pool":"cloud","backend":%s,"decision":"allowed",' "$4" "$b"
	printf '"tokens":{"prompt":%s,"completion":%s,"cached":%s,"reasoning":0,"estimated":%s},"status":%s}\n' \
		"$6" "$7" "$8" "$9" "${10}"
}
u=$tmp/usage.jsonl
{
	urec "${day}T01:00:00.000Z" k_a acme gpt-4o 10.0.0.1:80 100 50 10 false 200
	urec "$(ago '5 min')" k_a acme gpt-4o 10.0.0.1:80 200 70 0 false 200
	urec "$(ago '4 min')" k_b acme gpt-4o-mini 10.0.0.1:80 30 5 0 true 200
	urec "$(ago '3 min')" k_c beta gpt-4o 10.0.0.1:80 1000 2000 500 false 200
	# refused before any backend: its reservation was given back, no spend
	urec "$(ago '2 min')" k_c beta gpt-4o null 9999 0 0 true 429
	urec "$(ago '1 min')" null null gpt-4o 10.0.0.1:80 7 3 0 false 200
	printf '{"ts":"%s","event":"escalation","source":"198.18.0.9"}\n' "$(ago '1 min')"
	printf '{"ts":"2026-12-0' # torn
} >"$u"

why=
run -j tokens file "$u"
[ $rc = 0 ] || because "exit $rc"
got=$(jq -c '[.[] | [.tenant, .requests, .prompt, .completion, .cached, .estimated]]' "$tmp/out" 2>&1)
[ "$got" = '[["beta",1,1000,2000,500,0],["acme",3,330,125,10,1],["-",1,7,3,0,0]]' ] || because "got $got"
report "tokens: by tenant, largest first, only what backends answered (-j)" "$why"

why=
run tokens file "$u" by model since 10m
[ $rc = 0 ] || because "exit $rc"
exp=$(printf '%-24s %9s %12s %12s %12s %12s %9s' gpt-4o 3 1207 2073 500 0 0)
grep -qxF "$exp" "$tmp/out" || because "no row '$exp' in: $(cat "$tmp/out")"
grep -q '^gpt-4o-mini  *1  *30  *5 ' "$tmp/out" || because "no gpt-4o-mini row"
grep -q '^total  *4  *1237  *2078  *500  *0  *1$' "$tmp/out" || because "no total row"
report "tokens: by model since 10m, the month-old record left out, with a total" "$why"

why=
run -j tokens file "$u" tenant acme by key
got=$(jq -c '[.[] | [.key, .prompt]]' "$tmp/out" 2>&1)
[ "$got" = '[["k_a",300],["k_b",30]]' ] || because "got $got"
report "tokens: tenant acme by key" "$why"

why=
run tokens file "$u" by user
[ $rc = 2 ] || because "exit $rc, want 2"
grep -q "by 'user': expected tenant, key, route, model or pool" "$tmp/err" || because "stderr: $(cat "$tmp/err")"
run tokens file "$u" limit 3
[ $rc = 2 ] || because "limit: exit $rc, want 2"
run tokens file "$tmp/nonexistent.jsonl"
[ $rc = 1 ] || because "missing file: exit $rc, want 1"
report "tokens: a bad 'by', an argument of audit's only, a missing file" "$why"

echo "1..$ntests"
